import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO

/// An error a client should see: its status, a stable snake_case code and a readable message.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields
    /// For validation failures: every field that is wrong, not just the first.
    public var fields: [FieldProblem]?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:], fields: [FieldProblem]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.fields = fields
    }

    /// 400 `invalid_payload`, naming each bad field.
    public static func invalidPayload(_ problems: [FieldProblem]) -> APIError {
        APIError(
            .badRequest,
            "invalid_payload",
            "invalid fields: " + problems.map { "\($0.field) (\($0.problem))" }.joined(separator: ", "),
            fields: problems
        )
    }

    public static func unauthorized(_ code: String, _ message: String) -> APIError {
        APIError(.unauthorized, code, message, headers: [.wwwAuthenticate: "Bearer"])
    }

    public static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    public static func forbidden(_ code: String, _ message: String) -> APIError { APIError(.forbidden, code, message) }
    public static func notFound(_ message: String = "no such resource") -> APIError { APIError(.notFound, "not_found", message) }
}

/// One wrong field of a request body: its path (`customer.email`) and what is wrong with it.
public struct FieldProblem: Codable, Sendable, Equatable {
    public var field: String
    public var problem: String

    public init(_ field: String, _ problem: String) {
        self.field = field
        self.problem = problem
    }
}

/// The body of every error response: `{"error":{"code","message","request_id"}}`, plus `fields` for validation failures.
public struct ErrorEnvelope: Codable, Sendable, Equatable {
    public struct Body: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
        public var requestID: String
        public var fields: [FieldProblem]?

        enum CodingKeys: String, CodingKey {
            case code, message, fields
            case requestID = "request_id"
        }
    }

    public var error: Body

    public init(code: String, message: String, requestID: String, fields: [FieldProblem]? = nil) {
        self.error = Body(code: code, message: message, requestID: requestID, fields: fields)
    }
}

extension APIError {
    /// Maps anything thrown by a handler to what the client sees; `nil` means an unexpected (500) error.
    static func from(_ error: any Error) -> APIError? {
        switch error {
        case let error as APIError:
            return error
        case let error as PostgresTransactionError:
            return error.closureError.flatMap(from)
        case let error as DecodingError:
            return APIError(.badRequest, "invalid_body", "the request body is not valid: \(error.readableDescription)")
        case let error as any HTTPResponseError:
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return APIError(error.status, error.status.snakeCaseCode, message, headers: (error as? HTTPError)?.headers ?? [:])
        default:
            return nil
        }
    }
}

extension DecodingError {
    public var readableDescription: String {
        func path(_ context: Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "body" : path
        }
        switch self {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return parent == "body" ? "missing field \(key.stringValue)" : "missing field \(parent).\(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)) has the wrong type"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "malformed JSON" : "\(path(context)) is invalid"
        @unknown default:
            return "malformed JSON"
        }
    }
}

extension HTTPResponse.Status {
    /// `413 Content Too Large` → `content_too_large`.
    var snakeCaseCode: String {
        let words = reasonPhrase.lowercased().split { !$0.isLetter && !$0.isNumber }
        return words.isEmpty ? "http_\(code)" : words.joined(separator: "_")
    }
}
