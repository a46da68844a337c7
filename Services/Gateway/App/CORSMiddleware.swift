import HTTPTypes
import Hummingbird
import ServiceKit

/// Which browser origins may call the API, read from `CORS_ORIGINS` and `CORS_ALLOW_CREDENTIALS`.
public struct CORSPolicy: Sendable, Equatable {
    /// Empty with `anyOrigin`: every origin, answered `*`.
    public var origins: Set<String>
    public var anyOrigin: Bool
    public var allowCredentials: Bool

    public static let none = CORSPolicy(origins: [], anyOrigin: false, allowCredentials: false)

    /// `*` lets any site call with a token it holds, never with the browser's credentials: combined with credentials
    /// it would let every site act as the signed-in user, so that configuration is refused.
    public static func parse(origins text: String?, allowCredentials credentialsText: String?) throws -> CORSPolicy {
        let origins = (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let allowCredentials: Bool
        switch credentialsText?.lowercased() {
        case nil, "", "true": allowCredentials = !origins.contains("*")
        case "false": allowCredentials = false
        default: throw ConfigurationError(variable: "CORS_ALLOW_CREDENTIALS", expected: "must be true or false")
        }
        if origins.contains("*") {
            guard origins == ["*"] else { throw ConfigurationError(variable: "CORS_ORIGINS", expected: "is either * alone or a list of origins") }
            guard credentialsText?.lowercased() != "true" else {
                throw ConfigurationError(
                    variable: "CORS_ALLOW_CREDENTIALS",
                    expected: "cannot be true with CORS_ORIGINS=* (any site could act as the signed-in user); list the origins instead"
                )
            }
            return CORSPolicy(origins: [], anyOrigin: true, allowCredentials: false)
        }
        return CORSPolicy(origins: Set(origins), anyOrigin: false, allowCredentials: allowCredentials)
    }

    func allows(_ origin: String) -> Bool { anyOrigin || origins.contains(origin) }
}

/// CORS by the policy; other origins get no CORS headers, so browsers keep them out. A preflight is answered only
/// with the methods the route table has for its path.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext

    let policy: CORSPolicy
    let table: RouteTable
    static let defaultAllowedHeaders = "authorization, content-type, x-api-key, idempotency-key, x-request-id"
    static let exposedHeaders = "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        if request.method == .options, let requestedMethod = request.headers[.accessControlRequestMethod] {
            guard policy.allows(origin) else {
                return Response.error(.forbidden("cors_origin_not_allowed", "origin \(origin) may not call this API"), requestID: context.requestID)
            }
            let methods = table.methods(forPath: request.uri.path)
            guard methods.contains(requestedMethod) else {
                return Response.error(
                    .forbidden("cors_method_not_allowed", "\(requestedMethod) is not a method of \(request.uri.path)"),
                    requestID: context.requestID
                )
            }
            var headers = corsHeaders(origin)
            headers[.accessControlAllowMethods] = methods.joined(separator: ", ")
            headers[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders] ?? Self.defaultAllowedHeaders
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if policy.allows(origin) {
            response.headers.append(contentsOf: corsHeaders(origin))
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        }
        return response
    }

    private func corsHeaders(_ origin: String) -> HTTPFields {
        guard !policy.anyOrigin else { return [.accessControlAllowOrigin: "*"] }
        var headers: HTTPFields = [.accessControlAllowOrigin: origin, .vary: "Origin"]
        if policy.allowCredentials { headers[.accessControlAllowCredentials] = "true" }
        return headers
    }
}

/// Headers on everything the gateway answers: no MIME sniffing, no framing, no full referrers, and on HTML a strict
/// Content-Security-Policy (the console's own scripts and styles only).
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext

    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "strict-origin-when-cross-origin"
        response.headers[.xFrameOptions] = "DENY"
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        }
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
}
