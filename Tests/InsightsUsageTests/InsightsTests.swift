import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Sandbox
import ServiceKit
import StripeKit
import TestSupport
import Testing

@testable import InsightsUsage
@testable import StripeSync

extension UsageHarness {
    /// A connection of `owner`'s whose account the sandbox holds, copied and turned into snapshots by stripe-sync's
    /// own sync code (called directly: workers take any test's jobs, so these tests run none).
    func syncedConnection(owner: String) async throws -> UUID {
        let account = "acct_insights_" + UUID().uuidString.prefix(8)
        sandbox.connect.setData(.generate(customers: 40, seed: 11), for: account)
        let id = UUID()
        try await TestSupport.withPostgres { client in
            try await client.query(
                """
                INSERT INTO sync.stripe_connections (id, user_id, stripe_account_id, default_currency, access_token_ciphertext, token_key_id, sync_status)
                VALUES (\(id), \(owner), \(account), 'usd', 'sealed', 'k1', 'queued')
                """,
                logger: TestSupport.logger
            )
            // A job row holds the copy's cursor. Marked done, no worker takes it and no test's queue clearing removes it.
            let job = UUID()
            try await client.query(
                "INSERT INTO sync.sync_jobs (id, connection_id, kind, status, leased_by) VALUES (\(job), \(id), 'full', 'done', 'insights-test')",
                logger: TestSupport.logger
            )
            let stripeClient = StripeClient(http: HTTPClient.shared, secretKey: "sk_test_insights", apiBase: stripe.baseURL)
            let sync = AccountSync(
                postgres: client,
                stripe: stripeClient,
                account: account,
                job: job,
                worker: "insights-test",
                logger: TestSupport.logger
            )
            _ = try await sync.full(from: nil, now: Int(Date().timeIntervalSince1970))
            try await SnapshotBuilder.rebuild(connectionID: id, account: account, postgres: client, logger: TestSupport.logger)
        }
        return id
    }

    func insight(_ connection: UUID, token: String, key: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if let key { headers[.idempotencyKey] = key }
        return try await gateway.execute(uri: "/api/insights?connectionId=\(connection)", method: .post, headers: headers)
    }

    static func decode(_ response: TestResponse) throws -> InsightRoutes.Insight {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(InsightRoutes.Insight.self, from: Data(buffer: response.body))
    }

    static func stored(_ user: String) async throws -> (insights: Int, events: Int) {
        try await TestSupport.withPostgres { client in
            for try await counts in try await client.query(
                """
                SELECT (SELECT count(*)::int FROM usage.insights WHERE user_id = \(user)),
                    (SELECT count(*)::int FROM usage.usage_events WHERE user_id = \(user) AND event_type = 'ai_insight')
                """,
                logger: TestSupport.logger
            ).decode((Int, Int).self) { return counts }
            return (0, 0)
        }
    }
}

@Suite struct InsightsTests {
    @Test func aSyncedUserGetsAnInsightWrittenByTheModelAndCountedInUsage() async throws {
        try await UsageHarness.run { h async throws in
            let user = try await UsageTests.user()
            let connection = try await h.syncedConnection(owner: user.id)
            let response = try await h.insight(connection, token: user.token)
            #expect(response.status == .created)
            let insight = try UsageHarness.decode(response)
            #expect(insight.engine == "openai")
            #expect(insight.model == "sandbox-model")
            #expect(insight.fallbackReason == nil)
            // The sandbox model paraphrases the report's statements: the narrative came from the engine's facts.
            #expect(insight.narrative.summary.hasPrefix("The sandbox model read"))
            #expect(insight.narrative.highlights.first == insight.report.churnRisk.reasons.first?.text)
            #expect(insight.report.basis.days >= InsightEngine.minimumPredictionDays)
            #expect(insight.report.revenuePrediction.status == "predicted")
            #expect(["low", "medium", "high"].contains(insight.report.churnRisk.level))
            #expect((0...100).contains(try #require(insight.report.healthScore.score)))

            let (_, usage) = try await h.current(user.token)
            #expect(usage?["usage"]?["aiInsights"] == .number(1))
            #expect(usage?["aiInsightsRemaining"] == .number(4))
            let history = try await h.gateway.execute(
                uri: "/api/insights/history?connectionId=\(connection)",
                method: .get,
                headers: [.authorization: "Bearer \(user.token)"]
            )
            let listed = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: history.body))["insights"]
            guard case .array(let items)? = listed else { Issue.record("no insights in \(String(buffer: history.body))"); return }
            #expect(items.map { $0["id"]?.string } == [insight.id.uuidString])
        }
    }

    @Test func theStarterUsersSixthInsightInAMonthIs402WithTheUpgradePath() async throws {
        try await UsageHarness.run(modelTimeout: nil) { h async throws in
            let user = try await UsageTests.user()
            let connection = try await h.syncedConnection(owner: user.id)
            for _ in 0..<5 {
                let response = try await h.insight(connection, token: user.token)
                #expect(response.status == .created)
                #expect(try UsageHarness.decode(response).engine == "builtin")
            }
            let sixth = try await h.insight(connection, token: user.token)
            #expect(sixth.status.code == 402)
            let error = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(buffer: sixth.body)).error
            #expect(error.code == "insight_limit_reached")
            #expect(error.message.contains(#"POST /api/create-checkout {"plan":"professional"}"#))
            #expect(try await UsageHarness.stored(user.id) == (5, 5))
        }
    }

    @Test func aProfessionalUsersFiftyFirstInsightIsMadeAndBilledAsOverage() async throws {
        try await UsageHarness.run(modelTimeout: nil) { h async throws in
            let user = try await UsageTests.user()
            _ = try await TestSupport.upgrade(gateway: h.gateway, stripe: h.stripe, sandbox: h.sandbox, token: user.token, plan: "professional")
            let connection = try await h.syncedConnection(owner: user.id)
            #expect(
                try await h.record(#"{"userId":"\#(user.id)","eventType":"ai_insight","amount":50,"idempotencyKey":"earlier-insights"}"#).status
                    == .created
            )
            #expect(try await h.insight(connection, token: user.token).status == .created)
            let (_, usage) = try await h.current(user.token)
            #expect(usage?["usage"]?["aiInsights"] == .number(51))
            #expect(usage?["billing"]?["aiInsightsOverageCharge"]?["amount_cents"] == .number(100))
        }
    }

    /// A model that is slow, failing, or off its schema: the engine's own narrative is used, marked, counted once.
    @Test(arguments: ["timeout", "error", "malformed", "off_schema"])
    func aFailingModelFallsBackToTheBuiltInEngine(failure: String) async throws {
        try await UsageHarness.run(modelTimeout: .seconds(1)) { h async throws in
            switch failure {
            case "timeout": h.sandbox.faults.add(Fault(pathPrefix: "/v1/chat/completions", delayMilliseconds: 3_000))
            case "error": h.sandbox.faults.add(Fault(pathPrefix: "/v1/chat/completions", status: 500))
            case "malformed": h.sandbox.openAI.answer = .malformed
            default: h.sandbox.openAI.answer = .offSchema
            }
            let user = try await UsageTests.user()
            let connection = try await h.syncedConnection(owner: user.id)
            let response = try await h.insight(connection, token: user.token, key: "retry-\(failure)")
            #expect(response.status == .created)
            let insight = try UsageHarness.decode(response)
            #expect(insight.engine == "builtin")
            #expect(insight.narrative == InsightEngine.narrative(insight.report))
            let reason = try #require(insight.fallbackReason)
            let expected = [
                "timeout": "did not answer within 1 s", "error": "answered 500", "malformed": "did not follow the schema",
                "off_schema": "did not follow the schema",
            ]
            #expect(reason.contains(expected[failure]!))
            let retried = try await h.insight(connection, token: user.token, key: "retry-\(failure)")
            #expect(retried.status == .ok)
            #expect(try UsageHarness.decode(retried).id == insight.id)
            #expect(try await UsageHarness.stored(user.id) == (1, 1))
        }
    }

    @Test func anotherUsersConnectionIs404AndCostsNothing() async throws {
        try await UsageHarness.run(modelTimeout: nil) { h async throws in
            let owner = try await UsageTests.user()
            let other = try await UsageTests.user()
            let connection = try await h.syncedConnection(owner: owner.id)
            let response = try await h.insight(connection, token: other.token)
            #expect(response.status == .notFound)
            #expect(try await h.insight(UUID(), token: other.token).status == .notFound)
            #expect(try await UsageHarness.stored(other.id) == (0, 0))
        }
    }

    @Test func concurrentRequestsWithOneKeyMakeOneInsightAndOneUsageEvent() async throws {
        try await UsageHarness.run { h async throws in
            let user = try await UsageTests.user()
            let connection = try await h.syncedConnection(owner: user.id)
            let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, UUID?).self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        let response = try await h.insight(connection, token: user.token, key: "double-click")
                        return (response.status, try? UsageHarness.decode(response).id)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { $0.0 == .created }.count == 1)
            #expect(answers.allSatisfy { $0.0 == .created || $0.0 == .ok })
            #expect(Set(answers.compactMap(\.1)).count == 1)
            #expect(try await UsageHarness.stored(user.id) == (1, 1))

            let otherConnection = try await h.syncedConnection(owner: user.id)
            let reused = try await h.insight(otherConnection, token: user.token, key: "double-click")
            #expect(reused.status == .conflict)
        }
    }
}
