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

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func unauthorized(_ code: String, _ message: String) -> APIError {
        APIError(.unauthorized, code, message, headers: [.wwwAuthenticate: "Bearer"])
    }

    public static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    public static func forbidden(_ code: String, _ message: String) -> APIError { APIError(.forbidden, code, message) }
    public static func notFound(_ message: String = "no such resource") -> APIError { APIError(.notFound, "not_found", message) }
}

/// The body of every error response: `{"error":{"code","message","request_id"}}`.
public struct ErrorEnvelope: Codable, Sendable, Equatable {
    public struct Body: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
        public var requestID: String

        enum CodingKeys: String, CodingKey {
            case code, message
            case requestID = "request_id"
        }
    }

    public var error: Body

    public init(code: String, message: String, requestID: String) {
        self.error = Body(code: code, message: message, requestID: requestID)
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
