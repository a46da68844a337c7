import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import ServiceKit
import StripeKit
import TestSupport
import Testing

@testable import Gateway

/// Upstreams that misbehave below HTTP: one drops each connection as soon as a request arrives, one never reads.
enum RawUpstream {
    enum Behaviour {
        case closesAtOnce
        case neverReads
    }

    final class CloseOnRead: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.close(promise: nil)
        }
    }

    static func start(_ behaviour: Behaviour) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: behaviour == .closesAtOnce)
            .childChannelInitializer { channel in
                behaviour == .closesAtOnce ? channel.pipeline.addHandler(CloseOnRead()) : channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }
}

/// An upstream that answers at once and never reads the request body (Hummingbird drains it afterwards).
func makeEarlyAnswerer() -> some ApplicationProtocol {
    let router = Router()
    for method in GatewaySurvivalTests.methods {
        router.on("**", method: method) { _, _ in "early" }
    }
    return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

/// No request, however framed and whatever its route, stops the gateway: every combination of method, route kind
/// (each auth scheme with good and bad credentials, unmatched, rate-limited, upstreams that answer early, close early
/// or never read), body size and framing, on keep-alive connections, each answered as its route should be.
@Suite struct GatewaySurvivalTests {
    typealias H = GatewayHarness

    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete]
    static let sizes = [0, 1 << 20, 3 << 20, 50 << 20]

    /// A route of the matrix: its path and what a request on it carries and may be answered.
    struct Kind: Sendable {
        let path: String
        let expected: Set<Int>
        let headers: @Sendable (ByteBuffer) async throws -> HTTPFields
    }

    static func kinds() -> [Kind] {
        let none: @Sendable (ByteBuffer) async throws -> HTTPFields = { _ in [:] }
        let user: @Sendable (ByteBuffer) async throws -> HTTPFields = { _ in H.bearer(try await H.userToken("survivor")) }
        return [
            Kind(path: "/m/none", expected: [200], headers: none),
            Kind(path: "/nowhere/at/all", expected: [404], headers: none),
            Kind(path: "/m/user", expected: [200], headers: user),
            Kind(path: "/m/user", expected: [401], headers: none),
            Kind(path: "/m/optional", expected: [200], headers: user),
            Kind(path: "/m/admin", expected: [200], headers: { _ in H.bearer(try await H.userToken("chief", admin: true)) }),
            Kind(path: "/m/admin", expected: [403], headers: user),
            Kind(path: "/m/bearer", expected: [200], headers: { _ in H.bearer(H.cronSecret) }),
            Kind(path: "/m/bearer", expected: [401], headers: { _ in H.bearer("wrong") }),
            Kind(
                path: "/m/stripe",
                expected: [200, 413],
                headers: { body in
                    let header = StripeWebhookSignature.header(for: Data(buffer: body), secret: H.stripeSecret, timestamp: Date())
                    return [HTTPField.Name("Stripe-Signature")!: header]
                }
            ),
            Kind(path: "/m/key", expected: [200], headers: { _ in [HTTPField.Name("x-api-key")!: H.apiKey("users")] }),
            Kind(path: "/m/key", expected: [401], headers: { _ in [HTTPField.Name("x-api-key")!: "rr_made_up"] }),
            Kind(path: "/m/limited", expected: [200, 429], headers: none),
            Kind(path: "/m/early", expected: [200], headers: none),
            Kind(path: "/m/closes", expected: [502], headers: none),
            Kind(path: "/m/deaf", expected: [504], headers: none),
        ]
    }

    @Test func noRequestStopsTheGateway() async throws {
        let earlyApp = makeEarlyAnswerer()
        let closes = try await RawUpstream.start(.closesAtOnce)
        let deaf = try await RawUpstream.start(.neverReads)
        defer {
            closes.close(promise: nil)
            deaf.close(promise: nil)
        }
        try await earlyApp.test(.live) { early in
            let routes = """
                service early   http://127.0.0.1:\(early.port!)
                service closes  http://127.0.0.1:\(closes.localAddress!.port!)
                service deaf    http://127.0.0.1:\(deaf.localAddress!.port!)
                route * /m/none      echo auth=none
                route * /m/user      echo auth=user
                route * /m/optional  echo auth=user-optional
                route * /m/admin     echo auth=admin
                route * /m/bearer    echo auth=bearer-secret(TEST_CRON_SECRET)
                route * /m/stripe    echo auth=stripe-signature(TEST_STRIPE_SECRET) body=4m
                route * /m/key       echo auth=api-key(sync:users)
                route * /m/limited   echo auth=none limit=5/minute
                route * /m/early     early auth=none
                route * /m/closes    closes auth=none
                route * /m/deaf      deaf auth=none timeout=300ms
                """
            // Failed authentications are part of the matrix; here they must not lock the test's address out.
            try await H.run(routes: routes, configure: { $0.authFailureLimit = RateLimit(requests: 1_000_000, windowSeconds: 60) }) { h in
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                do {
                    try await exercise(h, client: client)
                    try await client.shutdown()
                } catch {
                    try await client.shutdown()
                    throw error
                }
            }
        }
    }

    private func exercise(_ h: GatewayHarness, client: HTTPClient) async throws {
        let base = "http://127.0.0.1:\(h.gateway.port!)"
        var failures: [String] = []
        for size in Self.sizes {
            let body = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
            for (kindIndex, kind) in Self.kinds().enumerated() {
                for (methodIndex, method) in Self.methods.enumerated() {
                    for chunked in [false, true] {
                        // 50 MB goes once per route kind and framing, the method turning with them, to keep the suite quick.
                        if size == Self.sizes.last, (kindIndex + (chunked ? 1 : 0)) % Self.methods.count != methodIndex { continue }
                        let label = "\(method) \(kind.path) \(size) bytes \(chunked ? "chunked" : "content-length")"
                        var request = HTTPClientRequest(url: base + kind.path)
                        request.method = .init(rawValue: method.rawValue)
                        for field in try await kind.headers(body) { request.headers.add(name: field.name.rawName, value: field.value) }
                        if size > 0 {
                            request.body = chunked ? .stream(Chunks(body: body), length: .unknown) : .bytes(body)
                        }
                        do {
                            let response = try await client.execute(request, timeout: .seconds(60))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            if !kind.expected.contains(Int(response.status.code)) { failures.append("\(label): \(response.status.code)") }
                        } catch let error as HTTPClientError where error == .remoteConnectionClosed {
                            // An answer before the upload ends may close the connection; the next request must still be served.
                        }
                        let alive = try await client.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(10))
                        _ = try await alive.body.collect(upTo: 1 << 16)
                        try #require(alive.status == .ok, "the gateway must still answer after \(label)")
                    }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) unexpected answers: \(failures.prefix(20).joined(separator: "; "))")
    }

    /// A body sent in 64 KB chunks without a length, so it goes out with `Transfer-Encoding: chunked`.
    struct Chunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let body: ByteBuffer

        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: ByteBuffer

            mutating func next() async -> ByteBuffer? {
                rest.readableBytes == 0 ? nil : rest.readSlice(length: Swift.min(rest.readableBytes, 64 * 1024))
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: body) }
    }
}
