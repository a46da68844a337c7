import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import StripeSync

/// Connect through the gateway, with the sandbox as Stripe's OAuth.
struct ConnectHarness: Sendable {
    static let appURL = "https://app.example.com"
    let gateway: any TestClientProtocol
    let stripe: any TestClientProtocol
    let sandbox: Sandbox

    static func run(workers: Int = 0, usageURL: String? = nil, _ test: @Sendable (ConnectHarness) async throws -> Void) async throws {
        if workers > 0 { try await emptyTheQueue() }
        try await TestSupport.withSandbox { sandbox, stripe in
            var settings = SyncSettings(
                stripeSecretKey: "sk_test_platform",
                clientID: "ca_test_platform",
                stripeAPIBase: stripe.baseURL,
                connectBase: stripe.baseURL,
                appURL: appURL,
                cipher: SecretCipher(currentKeyID: "k1", keys: ["k1": SymmetricKey(data: Data(repeating: 9, count: 32))]),
                stateKey: SymmetricKey(data: Data(repeating: 8, count: 32))
            )
            settings.workers = workers
            settings.insightsUsageURL = usageURL ?? "http://127.0.0.1:\(TestSupport.refusingPort)"
            settings.pollInterval = .milliseconds(20)
            settings.jobLease = .seconds(3)
            // A stream finds a client that hung up at its next write: soon, so tests end without waiting.
            settings.streamLimits.keepAlive = .milliseconds(200)
            let app = await StripeSyncService.buildApplication(try TestSupport.serviceConfiguration(), settings: settings)
            try await app.test(.live) { service in
                try await TestSupport.withGateway(services: ["stripe-sync": service.baseURL]) { gateway in
                    try await test(ConnectHarness(gateway: gateway, stripe: stripe, sandbox: sandbox))
                }
            }
        }
    }

    /// Workers take any connection's job; jobs left by earlier tests point at sandboxes that are gone, and would
    /// keep a test's worker busy failing them. Their metrics marks are cleared for the same reason.
    static func emptyTheQueue() async throws {
        try await TestSupport.withPostgres { client in
            try await StripeSyncService.descriptor.migrate(on: client, logger: TestSupport.logger)
            try await client.query("DELETE FROM sync.sync_jobs WHERE status IN ('queued', 'running')", logger: TestSupport.logger)
            // Metrics marks left by earlier tests would be this test's refresher's work too.
            try await client.query(
                "UPDATE sync.stripe_connections SET metrics_dirty_at = NULL, metrics_dirty_from = NULL WHERE metrics_dirty_at IS NOT NULL",
                logger: TestSupport.logger
            )
        }
    }

    static func user() async throws -> (id: String, token: String) {
        let id = "connect-" + UUID().uuidString.lowercased()
        return (id, try await TestSupport.userToken(id))
    }

    /// Where Stripe sends the browser back: the callback's query, and the binding cookie that browser holds.
    struct Return: Sendable {
        var query: String
        /// As the browser sends it: `name=value`.
        var cookie: String?

        func with(query: String) -> Return { Return(query: query, cookie: cookie) }
    }

    /// Starts Connect as the user and approves on the sandbox's page; returns where it sends the browser back.
    func authorize(_ token: String, account: String? = nil) async throws -> Return {
        let start = try await gateway.execute(uri: "/api/stripe/connect", method: .get, headers: [.authorization: "Bearer \(token)"])
        #expect(start.status == .ok)
        let url = try #require(try JSONDecoder().decode([String: String].self, from: Data(buffer: start.body))["url"].flatMap(URL.init(string:)))
        #expect(url.query?.contains("scope=read_only") == true)
        let setCookie = try #require(start.headers[.setCookie])
        let approved = try await stripe.execute(uri: url.path + "?" + url.query! + (account.map { "&account=\($0)" } ?? ""), method: .get)
        #expect(approved.status == .found)
        let location = try #require(approved.headers[.location])
        #expect(location.hasPrefix(Self.appURL + "/api/stripe/connect?"))
        return Return(
            query: String(location.dropFirst((Self.appURL + "/api/stripe/connect?").count)),
            cookie: setCookie.split(separator: ";").first.map(String.init)
        )
    }

    /// The browser arriving back from Stripe: no user token, the query and its cookie.
    func callback(_ back: Return, token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let cookie = back.cookie { headers[.cookie] = cookie }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await gateway.execute(uri: "/api/stripe/connect?" + back.query, method: .get, headers: headers)
    }

    func connections(_ token: String) async throws -> [ConnectRoutes.Connection] {
        let response = try await gateway.execute(uri: "/api/stripe/connections", method: .get, headers: [.authorization: "Bearer \(token)"])
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(ConnectRoutes.Connections.self, from: Data(buffer: response.body)).connections
    }
}

/// Connect and sync tests share the job queue (a worker takes any connection's job), so they run one at a time; a test
/// that hangs fails with its name instead of holding up the run.
@Suite(.serialized, .timeLimit(.minutes(3))) struct StripeSyncIntegrationTests {}

extension StripeSyncIntegrationTests {
    @Suite struct ConnectTests {
        @Test func connectingStoresTheAccountWithEncryptedTokensAndQueuesTheFirstSync() async throws {
            try await ConnectHarness.run { h async throws in
                let user = try await ConnectHarness.user()
                let account = "acct_" + UUID().uuidString.prefix(8)
                h.sandbox.connect.addAccount(id: account, name: "Acme Analytics", currency: "eur")
                let done = try await h.callback(try await h.authorize(user.token, account: account))
                #expect(done.status == .found)
                #expect(done.headers[.location] == ConnectHarness.appURL + "/dashboard?connected=true")
                let connections = try await h.connections(user.token)
                #expect(connections.map(\.stripeAccountId) == [account])
                #expect(connections.first?.businessName == "Acme Analytics")
                #expect(connections.first?.defaultCurrency == "eur")
                #expect(connections.first?.syncStatus == "queued")
                let (stored, jobs) = try await TestSupport.withPostgres { client in
                    var stored = ""
                    for try await text in try await client.query(
                        "SELECT access_token_ciphertext || coalesce(refresh_token_ciphertext, '') FROM sync.stripe_connections WHERE stripe_account_id = \(account)",
                        logger: TestSupport.logger
                    ).decode(String.self) { stored = text }
                    var jobs = 0
                    for try await count in try await client.query(
                        "SELECT count(*)::int FROM sync.sync_jobs j JOIN sync.stripe_connections c ON c.id = j.connection_id WHERE c.stripe_account_id = \(account) AND j.kind = 'full'",
                        logger: TestSupport.logger
                    ).decode(Int.self) { jobs = count }
                    return (stored, jobs)
                }
                #expect(!stored.isEmpty && !stored.contains("sk_test_connected") && !stored.contains("rt_acct"))
                #expect(jobs == 1)
            }
        }

        @Test func badExpiredAndReplayedStatesAreRefusedAndStoreNothing() async throws {
            try await ConnectHarness.run { h async throws in
                let user = try await ConnectHarness.user()
                let query = try await h.authorize(user.token)
                let tampered = query.with(query: query.query.replacingOccurrences(of: "state=", with: "state=x"))
                let bad = try await h.callback(tampered)
                #expect(bad.status == .badRequest)
                #expect(String(buffer: bad.body).contains("invalid_state"))

                let expiredState = try ConnectState(
                    userID: user.id,
                    nonce: "old",
                    expiresAt: Int(Date().timeIntervalSince1970) - 1,
                    browserHash: ConnectState.hash("secret")
                ).signed(with: SymmetricKey(data: Data(repeating: 8, count: 32)))
                let expired = try await h.callback(
                    ConnectHarness.Return(query: "code=ac_x&state=" + expiredState, cookie: "__Host-revmesh_connect=secret")
                )
                #expect(String(buffer: expired.body).contains("state_expired"))

                #expect(try await h.callback(query).status == .found)
                let replayed = try await h.callback(query)
                #expect(replayed.status == .badRequest)
                #expect(String(buffer: replayed.body).contains("state_already_used"))
                #expect(try await h.connections(user.token).count == 1)
            }
        }

        @Test func aConnectLinkSentToSomeoneElseAttachesNothing() async throws {
            try await ConnectHarness.run { h async throws in
                let attacker = try await ConnectHarness.user()
                let victim = try await ConnectHarness.user()
                let account = "acct_" + UUID().uuidString.prefix(8)
                h.sandbox.connect.addAccount(id: account, name: "Victim Ltd", currency: "usd")
                // The attacker starts Connect and sends the link; the victim approves their own Stripe account on it.
                let sent = try await h.authorize(attacker.token, account: account)
                let victimsOwn = try await h.authorize(victim.token)
                for cookie in [nil, victimsOwn.cookie, "__Host-revmesh_connect=guessed"] {
                    let refused = try await h.callback(ConnectHarness.Return(query: sent.query, cookie: cookie))
                    #expect(refused.status == .badRequest)
                    #expect(String(buffer: refused.body).contains("state_mismatch"))
                }
                // The right browser but another user's session is refused too.
                let otherUser = try await h.callback(sent, token: victim.token)
                #expect(String(buffer: otherUser.body).contains("state_mismatch"))
                #expect(try await h.connections(attacker.token).isEmpty)
                #expect(try await h.connections(victim.token).isEmpty)
                let stored = try await TestSupport.count("SELECT count(*)::int FROM sync.stripe_connections WHERE stripe_account_id = \(account)")
                #expect(stored == 0, "the victim's account is never attached")
            }
        }

        @Test func theBindingCookieIsHostOnlyHttpOnlyAndLax() async throws {
            try await ConnectHarness.run { h async throws in
                let user = try await ConnectHarness.user()
                let start = try await h.gateway.execute(uri: "/api/stripe/connect", method: .get, headers: [.authorization: "Bearer \(user.token)"])
                let cookie = try #require(start.headers[.setCookie])
                #expect(cookie.hasPrefix("__Host-revmesh_connect="))
                for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=600"] {
                    #expect(cookie.contains(attribute), "\(attribute)")
                }
                #expect(!cookie.contains("Domain"))
                let done = try await h.callback(try await h.authorize(user.token))
                #expect(done.status == .found)
                #expect(done.headers[.setCookie]?.contains("Max-Age=0") == true, "the cookie is cleared once used")
            }
        }

        @Test func aRefusedCodeIsAClearErrorAndStoresNothing() async throws {
            try await ConnectHarness.run { h async throws in
                let user = try await ConnectHarness.user()
                let first = try await h.authorize(user.token)
                let code = try #require(first.query.split(separator: "&").first { $0.hasPrefix("code=") })
                #expect(try await h.callback(first).status == .found)
                // A fresh state with an already-exchanged code: Stripe answers invalid_grant.
                let second = try await h.authorize(user.token)
                let reused = second.with(query: second.query.split(separator: "&").map { $0.hasPrefix("code=") ? code : $0 }.joined(separator: "&"))
                let refused = try await h.callback(reused)
                #expect(refused.status == .badRequest)
                #expect(String(buffer: refused.body).contains("invalid_grant"))
                #expect(try await h.connections(user.token).count == 1)
            }
        }

        @Test func anAccountConnectedByAnotherUserIs409() async throws {
            try await ConnectHarness.run { h async throws in
                let account = "acct_" + UUID().uuidString.prefix(8)
                let owner = try await ConnectHarness.user()
                let other = try await ConnectHarness.user()
                #expect(try await h.callback(try await h.authorize(owner.token, account: account)).status == .found)
                let refused = try await h.callback(try await h.authorize(other.token, account: account))
                #expect(refused.status == .conflict)
                #expect(String(buffer: refused.body).contains("account_already_connected"))
                #expect(try await h.connections(other.token).isEmpty)
                // The owner connecting again refreshes the same connection.
                #expect(try await h.callback(try await h.authorize(owner.token, account: account)).status == .found)
                #expect(try await h.connections(owner.token).count == 1)
            }
        }

        @Test func onlyTheOwnerSeesSyncsOrDisconnects() async throws {
            try await ConnectHarness.run { h async throws in
                let owner = try await ConnectHarness.user()
                let stranger = try await ConnectHarness.user()
                #expect(try await h.callback(try await h.authorize(owner.token)).status == .found)
                let connection = try #require(try await h.connections(owner.token).first)
                let path = "/api/stripe/connections/\(connection.id)"
                #expect(
                    try await h.gateway.execute(uri: path + "/sync", method: .post, headers: [.authorization: "Bearer \(stranger.token)"]).status
                        == .notFound
                )
                #expect(
                    try await h.gateway.execute(uri: path, method: .delete, headers: [.authorization: "Bearer \(stranger.token)"]).status == .notFound
                )
                // A sync is already queued: asking again queues nothing more.
                let again = try await h.gateway.execute(uri: path + "/sync", method: .post, headers: [.authorization: "Bearer \(owner.token)"])
                #expect(again.status == .accepted)
                #expect(String(buffer: again.body) == #"{"queued":0}"#)
                #expect(
                    try await h.gateway.execute(uri: path, method: .delete, headers: [.authorization: "Bearer \(owner.token)"]).status == .noContent
                )
                #expect(h.sandbox.connect.deauthorized.contains(connection.stripeAccountId))
                #expect(try await h.connections(owner.token).isEmpty)
            }
        }
    }
}
