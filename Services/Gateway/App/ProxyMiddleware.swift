import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit
import ServiceLifecycle

/// Matches the route table; for a matched route: checks the path, the body size, the auth scheme and the
/// rate limit, then streams the request to the upstream and its answer back. Unmatched requests go on
/// to the static files and, failing those, a 404.
struct ProxyMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext

    let table: RouteTable
    let upstreams: [String: String]
    let authenticator: Authenticator
    let limiter: RateLimiter
    let authFailureLimit: RateLimit
    /// Seconds since 1970, for the limits' windows.
    let clock: @Sendable () -> Int64
    let tokens: IdentityTokens
    let http: HTTPClient
    /// For `stream=true` routes, whose answers hold a connection as long as the client listens.
    let streams: HTTPClient

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route: GatewayConfig.Route
        switch table.match(method: request.method, path: request.uri.path) {
        case .none:
            return try await next(request, context)
        case .methodNotAllowed(let allowed):
            throw APIError(
                .methodNotAllowed,
                "method_not_allowed",
                "\(request.method.rawValue) is not allowed here",
                headers: [.allow: allowed.joined(separator: ", ")]
            )
        case .route(let matched):
            route = matched
        }
        // The endpoint path is shared with the outer middleware, which logs and counts by it.
        context.coreContext.endpointPath.value = route.label
        var context = context
        try Self.checkPath(request.uri.path)
        let contentLength = request.headers[.contentLength].flatMap { Int($0) }
        if let limit = route.bodyLimit, let contentLength, contentLength > limit {
            throw APIError(.contentTooLarge, "payload_too_large", "the body is larger than this route's limit of \(limit) bytes")
        }

        var request = request
        let identity = try await authenticate(route, request: &request, context: context)
        context.identity = identity

        var rateHeaders = HTTPFields()
        if let limit = route.limit {
            let decision = limiter.hit(
                "\(route.line) \(Authenticator.rateLimitKey(identity))",
                limit: limit,
                nowSeconds: clock()
            )
            rateHeaders[HTTPField.Name("RateLimit-Limit")!] = String(decision.limit)
            rateHeaders[HTTPField.Name("RateLimit-Remaining")!] = String(decision.remaining)
            rateHeaders[HTTPField.Name("RateLimit-Reset")!] = String(decision.resetSeconds)
            guard decision.allowed else {
                rateHeaders[.retryAfter] = String(decision.resetSeconds)
                throw APIError(.tooManyRequests, "rate_limited", "too many requests; retry in \(decision.resetSeconds) s", headers: rateHeaders)
            }
        }

        var response = try await forward(request, contentLength: contentLength, route: route, identity: identity, context: context)
        response.headers.append(contentsOf: rateHeaders)
        return response
    }

    /// Authenticates, counting failures per client address: past `authFailureLimit` the address is refused before
    /// any credential of its is checked, so secrets and keys cannot be guessed and guesses cost nothing downstream.
    private func authenticate(_ route: GatewayConfig.Route, request: inout Request, context: Context) async throws -> Identity {
        guard route.auth != .none else { return try await authenticator.authenticate(route, request: &request, context: context) }
        let failuresKey = "auth-failures ip:\(context.remoteAddress?.ipAddress ?? "unknown")"
        let now = clock()
        let budget = limiter.peek(failuresKey, limit: authFailureLimit, nowSeconds: now)
        guard budget.allowed else {
            throw APIError(
                .tooManyRequests,
                "too_many_failed_attempts",
                "too many failed authentications from this address; retry in \(budget.resetSeconds) s",
                headers: [.retryAfter: String(budget.resetSeconds)]
            )
        }
        do {
            return try await authenticator.authenticate(route, request: &request, context: context)
        } catch let error as APIError where error.status == .unauthorized {
            _ = limiter.hit(failuresKey, limit: authFailureLimit, nowSeconds: now)
            throw error
        }
    }

    private func forward(
        _ request: Request,
        contentLength: Int?,
        route: GatewayConfig.Route,
        identity: Identity,
        context: Context
    ) async throws -> Response {
        let base = upstreams[route.service]!
        var outbound = HTTPClientRequest(url: base + request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        let dropped = HopByHop.names(listedIn: request.headers[.connection]).union(Self.neverForwarded)
        for field in request.headers where !dropped.contains(field.name.canonicalName) && !field.name.canonicalName.hasPrefix("x-revmesh-") {
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        if !route.forwardedCookies.isEmpty {
            let cookies = Cookies(from: request.headers[values: .cookie])
            let kept = route.forwardedCookies.compactMap { name in cookies[name].map { "\(name)=\($0.value)" } }
            if !kept.isEmpty { outbound.headers.add(name: "Cookie", value: kept.joined(separator: "; ")) }
        }
        outbound.headers.add(name: IdentityTokens.headerName, value: try await tokens.mint(identity, issuer: "gateway"))
        outbound.headers.add(name: "X-Request-Id", value: context.requestID)
        if let ip = context.remoteAddress?.ipAddress { outbound.headers.add(name: "X-Forwarded-For", value: ip) }
        outbound.headers.add(name: "X-Forwarded-Proto", value: "http")
        if let host = request.head.authority { outbound.headers.add(name: "X-Forwarded-Host", value: host) }
        let hasBody = contentLength.map { $0 > 0 } ?? (request.headers[.transferEncoding] != nil)
        let upload = hasBody ? UpstreamBody(request.body) : nil
        if let upload, let contentLength {
            outbound.body = .stream(upload, length: .known(Int64(contentLength)))
        } else if let upload {
            outbound.body = .stream(LimitedBody(base: upload, limit: route.bodyLimit ?? Int.max), length: .unknown)
        }

        let upstreamResponse: HTTPClientResponse
        do {
            upstreamResponse = try await (route.isStream ? streams : http).execute(
                outbound,
                timeout: TimeAmount(route.timeout ?? GatewayConfig.defaultTimeout)
            )
        } catch {
            await upload?.release()
            switch error {
            case let error as BodyLimitExceeded:
                throw APIError(.contentTooLarge, "payload_too_large", "the body is larger than this route's limit of \(error.limit) bytes")
            case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout:
                throw APIError(.gatewayTimeout, "upstream_timeout", "\(route.service) did not answer in time")
            default:
                context.logger.warning(
                    "upstream failed",
                    metadata: ["upstream": .string(route.service), "error": .string(String(reflecting: error))]
                )
                throw APIError(.badGateway, "upstream_unavailable", "\(route.service) cannot be reached")
            }
        }

        var headers = HTTPFields()
        let droppedInResponse = HopByHop.names(listedIn: upstreamResponse.headers.first(name: "Connection")).union(HopByHop.always)
        for header in upstreamResponse.headers where !droppedInResponse.contains(header.name.lowercased()) {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        let isEventStream = upstreamResponse.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true
        return Response(
            status: HTTPResponse.Status(code: Int(upstreamResponse.status.code), reasonPhrase: upstreamResponse.status.reasonPhrase),
            headers: headers,
            body: ResponseBody { writer in
                // The upload is released once the answer is complete, before the connection drains the request body.
                do {
                    if isEventStream {
                        try await Self.relayEventStream(upstreamResponse.body, to: &writer)
                    } else {
                        for try await chunk in upstreamResponse.body { try await writer.write(chunk) }
                    }
                    try await writer.finish(nil)
                } catch {
                    await upload?.release()
                    throw error
                }
                await upload?.release()
            }
        )
    }

    /// A live stream never ends by itself: when the gateway shuts down it is cut, and the client reconnects (to a
    /// gateway that stays) with the last event id it saw. A client too slow to take 64 chunks behind is cut too,
    /// rather than buffered without bound.
    static func relayEventStream(_ body: HTTPClientResponse.Body, to writer: inout any ResponseBodyWriter) async throws {
        let (chunks, feed) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(64))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { feed.finish() }
                for try await chunk in body {
                    if case .dropped = feed.yield(chunk) { return }
                }
            }
            try await withGracefulShutdownHandler {
                for await chunk in chunks { try await writer.write(chunk) }
            } onGracefulShutdown: {
                feed.finish()
            }
            group.cancelAll()
        }
    }

    /// Request headers a service never sees: hop-by-hop ones, the caller's credentials, and what the gateway sets itself.
    static let neverForwarded: Set<String> = HopByHop.always.union([
        "host", "authorization", "cookie", "x-api-key", "stripe-signature", "content-length", "x-request-id", "x-forwarded-for",
        "x-forwarded-proto", "x-forwarded-host", "forwarded",
    ])

    /// Refuses dot segments and encoded slashes, which could make a service see another path than the one routed.
    static func checkPath(_ path: String) throws {
        for segment in path.split(separator: "/") {
            guard let decoded = segment.removingPercentEncoding, decoded != ".", decoded != "..", !decoded.contains("/"), !decoded.contains("\\")
            else { throw APIError.badRequest("invalid_path", "the path contains a forbidden segment") }
        }
    }
}

enum HopByHop {
    static let always: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
        "transfer-encoding", "upgrade",
    ]

    /// Headers named in `Connection` are hop-by-hop too.
    static func names(listedIn connection: String?) -> Set<String> {
        Set((connection ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
    }
}

struct BodyLimitExceeded: Error {
    let limit: Int
}

/// A streamed body that fails once it grows past `limit`, for uploads that announce no length.
struct LimitedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer

    let base: Base
    let limit: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let limit: Int
        var seen = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            seen += buffer.readableBytes
            if seen > limit { throw BodyLimitExceeded(limit: limit) }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), limit: limit) }
}
