import Foundation
import HTTPTypes
import Hummingbird
import Logging

extension HTTPField.Name {
    public static let requestID = HTTPField.Name("X-Request-Id")!
    public static let revmeshIdentity = HTTPField.Name(IdentityTokens.headerName)!
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}

/// Gives every request an id, then writes one log line and the request metrics once it is answered.
public struct RequestTrackingMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    let metrics: HTTPMetrics
    /// The gateway labels its metrics with the upstream service of each route, so per-service rates can be read from it.
    let upstreamOfRoute: (@Sendable (String) -> String?)?

    public init(metrics: HTTPMetrics, upstreamOfRoute: (@Sendable (String) -> String?)? = nil) {
        self.metrics = metrics
        self.upstreamOfRoute = upstreamOfRoute
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = request.headers[.requestID].flatMap(RequestID.sanitized) ?? RequestID.generate()
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Only reached when no error middleware sits inside this one.
            record(request, context: context, status: .internalServerError, since: start)
            throw error
        }
        response.headers[.requestID] = context.requestID
        record(request, context: context, status: response.status, since: start)
        return response
    }

    private func record(_ request: Request, context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let duration = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.record(
            route: route,
            method: request.method.rawValue,
            status: status.code,
            duration: duration,
            extraLabels: upstreamOfRoute.map { [("upstream", $0(route) ?? "gateway")] } ?? []
        )
        let milliseconds = duration.inSeconds * 1000
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue),
                "route": .string(route),
                "status": .stringConvertible(status.code),
                "duration_ms": .string(String(format: "%.2f", milliseconds)),
            ]
        )
    }
}

public enum RequestID {
    /// A client-sent id is kept only when it is short and plain, so it can go into logs and headers as is.
    public static func sanitized(_ raw: String) -> String? {
        guard (1...128).contains(raw.utf8.count),
            raw.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
        else { return nil }
        return raw
    }

    public static func generate() -> String { UUID().uuidString.lowercased() }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

/// Turns every thrown error into the JSON error envelope; unexpected errors are logged and become a bare 500.
public struct ErrorEnvelopeMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError: APIError
            if let mapped = APIError.from(error) {
                apiError = mapped
            } else {
                context.logger.error("unhandled error", metadata: ["error": .string(String(reflecting: error))])
                apiError = APIError(.internalServerError, "internal_error", "something went wrong on our side")
            }
            return Response.error(apiError, requestID: context.requestID)
        }
    }
}

extension Response {
    /// The JSON error envelope as a response.
    public static func error(_ error: APIError, requestID: String) -> Response {
        var headers = error.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body = (try? JSONEncoder().encode(ErrorEnvelope(code: error.code, message: error.message, requestID: requestID, fields: error.fields))) ?? Data()
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Services trust nothing but a valid identity token; only the probe endpoints are open.
public struct IdentityMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    static let openPaths: Set<String> = ["/health", "/ready", "/metrics"]
    let tokens: IdentityTokens

    public init(tokens: IdentityTokens) {
        self.tokens = tokens
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard let token = request.headers[.revmeshIdentity] else {
            throw APIError.unauthorized("missing_identity", "requests must come through the gateway or from a Revmesh service")
        }
        var context = context
        let identity = try await tokens.verify(token)
        context.identity = identity
        context.logger[metadataKey: "subject"] = .string(identity.subject)
        return try await next(request, context)
    }
}
