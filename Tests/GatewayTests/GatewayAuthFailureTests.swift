import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServiceKit
import TestSupport
import Testing

@testable import Gateway

/// Failed authentications are limited per client address, counted before any credential is checked.
@Suite struct GatewayAuthFailureTests {
    typealias H = GatewayHarness

    /// The value of `gateway_credential_checks_total{scheme="…"}`, 0 when never counted.
    static func credentialChecks(_ h: GatewayHarness, scheme: String) -> Int {
        let prefix = "gateway_credential_checks_total{scheme=\"\(scheme)\"} "
        let line = h.metrics.exposition().split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test func wrongBearerSecretsPastTheLimitAre429AndNeverCompared() async throws {
        // The clock stands still, so all 1,000 attempts fall in one window.
        try await H.run(configure: { $0.clock = { 1_800_000_030 } }) { h in
            var statuses: [HTTPResponse.Status: Int] = [:]
            var retryAfter: String?
            for attempt in 0..<1000 {
                let response = try await h.gateway.execute(uri: "/cron", method: .post, headers: H.bearer("guess-\(attempt)"))
                statuses[response.status, default: 0] += 1
                if response.status == .tooManyRequests {
                    retryAfter = response.headers[.retryAfter]
                    expectError(response, .tooManyRequests, "too_many_failed_attempts")
                }
            }
            #expect(statuses == [.unauthorized: 20, .tooManyRequests: 980])
            #expect(retryAfter == "30")
            #expect(Self.credentialChecks(h, scheme: "bearer-secret") == 20, "refused attempts never reach a comparison")
            #expect(h.echoRequests.value == 0)
            // Even the right secret waits out the window from this address; the limit is per address.
            #expect(try await h.gateway.execute(uri: "/cron", method: .post, headers: H.bearer(H.cronSecret)).status == .tooManyRequests)
            let elsewhere = try await LoopbackClient.status(
                get: "/me",
                headers: ["Authorization": "Bearer \(try await H.userToken())"],
                port: h.gateway.port!,
                from: "127.0.0.2"
            )
            #expect(elsewhere == 200)
        }
    }

    @Test func randomAPIKeysCauseNoLookupsWhileAValidKeyKeepsWorking() async throws {
        // The valid key's answer stays cached throughout, so every lookup after the first would be a random key's.
        try await H.run(configure: { $0.apiKeyCacheTTL = .seconds(600) }) { h in
            let port = h.gateway.port!
            let valid = ["x-api-key": H.apiKey("users")]
            #expect(try await LoopbackClient.status(get: "/keys/users", headers: valid, port: port, from: "127.0.0.2") == 200)
            let lookupsForTheValidKey = h.keyCalls.value
            let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
            // Four clients at once, each with its own seeded keys; every 250th request of each, the valid key from another address.
            let refused = try await withThrowingTaskGroup(of: Int.self) { group in
                for client in 0..<4 {
                    group.addTask {
                        var random = SeededRandom(seed: UInt64(10_000 + client))
                        var refused = 0
                        for index in 0..<2_500 {
                            let body = String((0..<39).map { _ in alphabet[random.next(alphabet.count)] })
                            let key = index % 2 == 0 ? "rr_" + body : body
                            let response = try await h.gateway.execute(uri: "/keys/users", method: .get, headers: [HTTPField.Name("x-api-key")!: key])
                            if response.status == .unauthorized || response.status == .tooManyRequests { refused += 1 }
                            if index % 250 == 249 {
                                #expect(try await LoopbackClient.status(get: "/keys/users", headers: valid, port: port, from: "127.0.0.2") == 200)
                            }
                        }
                        return refused
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(refused == 10_000)
            #expect(h.keyCalls.value == lookupsForTheValidKey, "no random key reached devops-api")
        }
    }
}
