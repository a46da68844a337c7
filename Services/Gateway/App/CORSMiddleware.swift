import Hummingbird
import ServiceKit

/// CORS for the origins in `CORS_ORIGINS`; other origins get no CORS headers, so browsers keep them out.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext

    let allowedOrigins: Set<String>
    static let allowedMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
    static let defaultAllowedHeaders = "authorization, content-type, x-api-key, idempotency-key, x-request-id"
    static let exposedHeaders = "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed = allowedOrigins.contains(origin) || allowedOrigins.contains("*")
        if request.method == .options, let requestedMethod = request.headers[.accessControlRequestMethod] {
            guard allowed else {
                return Response.error(.forbidden("cors_origin_not_allowed", "origin \(origin) may not call this API"), requestID: context.requestID)
            }
            var headers = corsHeaders(origin)
            headers[.accessControlAllowMethods] = Self.allowedMethods.contains(requestedMethod) ? Self.allowedMethods : requestedMethod
            headers[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders] ?? Self.defaultAllowedHeaders
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if allowed {
            response.headers.append(contentsOf: corsHeaders(origin))
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        }
        return response
    }

    private func corsHeaders(_ origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .accessControlAllowCredentials: "true", .vary: "Origin"]
    }
}
