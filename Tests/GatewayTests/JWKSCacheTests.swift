import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Gateway

/// A key server that can be up, down (503), or holding every request until released; it counts what reaches it.
final class KeyServer: Sendable {
    enum Mode { case up, down, holding }

    private let state = Mutex((mode: Mode.up, requests: 0, inFlight: 0, mostInFlight: 0))
    private let held = Mutex<[CheckedContinuation<Void, Never>]>([])

    var requests: Int { state.withLock { $0.requests } }
    var mostInFlight: Int { state.withLock { $0.mostInFlight } }
    var inFlight: Int { state.withLock { $0.inFlight } }

    func set(_ mode: Mode) { state.withLock { $0.mode = mode } }

    func releaseHeld() {
        for waiting in held.withLock({ list in
            defer { list = [] }; return list
        }) { waiting.resume() }
    }

    func application() throws -> some ApplicationProtocol {
        let body = try TestKeys.jwks()
        let router = Router()
        router.get("/jwks.json") { _, _ in
            let mode = self.state.withLock { state in
                state.requests += 1
                state.inFlight += 1
                state.mostInFlight = max(state.mostInFlight, state.inFlight)
                return state.mode
            }
            defer { self.state.withLock { $0.inFlight -= 1 } }
            if mode == .holding { await withCheckedContinuation { continuation in self.held.withLock { $0.append(continuation) } } }
            guard mode == .up else { return Response(status: .serviceUnavailable) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

/// The JWKS while its server fails: the last good keys keep serving, one fetch at a time, backing off, until the
/// staleness limit, after which tokens are refused with 503. The cache's clock is the test's, moved by hand.
@Suite struct JWKSCacheTests {
    @Test func theLastGoodKeysServeWhileTheServerIsDownUntilTheyAreTooOld() async throws {
        let server = KeyServer()
        let start = ContinuousClock.now
        let elapsed = Mutex(Duration.zero)
        @Sendable func advance(_ duration: Duration) { elapsed.withLock { $0 += duration } }
        let token = try await TestKeys.rs256(
            UserClaims(subject: "u", email: nil, admin: false, issuedAt: Date(), lifetime: 3600),
            key: TestKeys.known,
            kid: "k1"
        )
        try await server.application().test(.live) { keyServer in
            try await TestSupport.withHTTPClient { http in
                let cache = JWKSCache(
                    url: "http://127.0.0.1:\(keyServer.port!)/jwks.json",
                    http: http,
                    maxAge: .seconds(600),
                    maxStaleness: .seconds(3600),
                    clock: { start + elapsed.withLock { $0 } }
                )
                let verifier = await UserTokenVerifier(hmacSecret: nil, jwks: cache)
                func verifyMany(_ count: Int) async throws {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for _ in 0..<count { group.addTask { _ = try await verifier.verify(token) } }
                        try await group.waitForAll()
                    }
                }
                try await verifyMany(10)
                #expect(server.requests == 1)

                // The set expires while the server hangs: every token still verifies at once, and one fetch is made.
                server.set(.holding)
                advance(.seconds(601))
                try await verifyMany(50)
                try await TestSupport.eventually("the background fetch") { server.requests == 2 }
                try await verifyMany(50)
                #expect(server.requests == 2)
                #expect(server.mostInFlight == 1)

                // It fails: no new fetch until the backoff has passed, then exactly one.
                server.set(.down)
                server.releaseHeld()
                try await TestSupport.eventually("the held fetch's failure to be recorded") { await !cache.isFetching }
                try await verifyMany(20)
                #expect(server.requests == 2, "a failed fetch is not retried before its backoff")
                advance(.seconds(1))
                try await verifyMany(5)
                try await TestSupport.eventually("the fetch after the backoff") { await !cache.isFetching }
                #expect(server.requests == 3)

                // Past the staleness limit the keys are no longer trusted.
                advance(.seconds(3600))
                await #expect(throws: APIError.self) { _ = try await verifier.verify(token) }
                do {
                    _ = try await verifier.verify(token)
                } catch let error as APIError {
                    #expect(error.status == .serviceUnavailable)
                    #expect(error.code == "jwks_unavailable")
                }

                // The server is back: once the backoff allows, the next token waits for fresh keys and verifies.
                server.set(.up)
                advance(.seconds(61))
                _ = try await verifier.verify(token)
                #expect(server.mostInFlight == 1)
            }
        }
    }
}
