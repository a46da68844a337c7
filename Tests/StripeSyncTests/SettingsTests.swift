import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import RevenueMath
import Sandbox
import ServiceKit
import StripeKit
import TestSupport
import Testing

@testable import StripeSync

@Suite struct SettingsRulesTests {
    static func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test func changesApplyOneByOneAndNullTurnsPastDueChurnOff() throws {
        var settings = try SettingsRoutes.apply(Self.json(#"{"pastDueChurnDays": 30, "discounts": "all-active"}"#), to: MetricSettings())
        #expect(settings == MetricSettings(discounts: .allActive, pastDueChurnDays: 30, cancellation: .atPeriodEnd))
        settings = try SettingsRoutes.apply(Self.json(#"{"pastDueChurnDays": null, "cancellation": "cancellation"}"#), to: settings)
        #expect(settings == MetricSettings(discounts: .allActive, pastDueChurnDays: nil, cancellation: .atCancellation))
    }

    @Test func everyWrongFieldIsNamed() throws {
        do {
            _ = try SettingsRoutes.apply(
                Self.json(#"{"discounts": "most", "pastDueChurnDays": 2.5, "cancellation": 1, "colour": "red"}"#),
                to: MetricSettings()
            )
            Issue.record("accepted")
        } catch let error as APIError {
            #expect(error.code == "invalid_payload")
            #expect(error.fields?.map(\.field) == ["cancellation", "colour", "discounts", "pastDueChurnDays"])
        }
        #expect(throws: APIError.self) { try SettingsRoutes.apply(Self.json(#"{"pastDueChurnDays": 0}"#), to: MetricSettings()) }
        #expect(throws: APIError.self) { try SettingsRoutes.apply(Self.json("[]"), to: MetricSettings()) }
    }

    @Test func storedSettingsReadBackWithDefaultsForWhatIsMissing() throws {
        let decoded = try JSONDecoder().decode(MetricSettings.self, from: Data(#"{"cancellation": "cancellation"}"#.utf8))
        #expect(decoded == MetricSettings(cancellation: .atCancellation))
        let encoded = String(decoding: try JSONEncoder().encode(MetricSettings()), as: UTF8.self)
        #expect(encoded.contains(#""pastDueChurnDays":null"#))
    }
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Two $100/month customers; one set to cancel at period end ten days ago (Stripe: `active`, `canceled_at` set,
    /// `ended_at` empty, `cancel_at_period_end` true, the period ending in twenty days).
    static func cancellingAccount(now: Int) -> ConnectedAccountData {
        let day = 86_400
        let price = Price(id: "price_usd_10000_month", currency: "usd", unitAmount: 10_000, recurring: Recurring(interval: .month))
        var data = ConnectedAccountData()
        data.customers = ["stays", "leaves"].map { Customer(id: "cus_\($0)", email: "\($0)@example.com", created: now - 80 * day) }
        data.subscriptions = ["stays", "leaves"].map { name in
            Subscription(
                id: "sub_\(name)",
                customer: ExpandableID("cus_\(name)"),
                status: .active,
                created: now - 60 * day,
                canceledAt: name == "leaves" ? now - 10 * day : nil,
                cancelAtPeriodEnd: name == "leaves",
                currency: "usd",
                items: StripeList(data: [SubscriptionItem(id: "si_\(name)", price: price, quantity: 1)]),
                currentPeriodStart: now - 10 * day,
                currentPeriodEnd: now + 20 * day
            )
        }
        return data
    }

    @Test func aSettingChangedByTheOwnerRebuildsTheHistory() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let (user, connection, _) = try await Self.connectBuilt(
                Self.cancellingAccount(now: Int(Date().timeIntervalSince1970)),
                named: "cancelling",
                h
            )
            let auth: HTTPFields = [.authorization: "Bearer \(user.token)", .contentType: "application/json"]
            func metrics() async throws -> JSONValue {
                let response = try await h.gateway.execute(uri: "/api/metrics?connectionId=\(connection.id)&days=30", method: .get, headers: auth)
                return try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
            }

            // The default: MRR stays until the period ends.
            var before = try await metrics()
            #expect(before["latest"]?["mrr"] == .number(20_000))
            #expect(before["movements"]?["churned"] == .number(0))
            let settingsURI = "/api/stripe/connections/\(connection.id)/settings"
            let shown = try await h.gateway.execute(uri: settingsURI, method: .get, headers: auth)
            #expect(
                try JSONDecoder().decode(JSONValue.self, from: Data(buffer: shown.body)) == [
                    "cancellation": "period-end", "discounts": "forever-only", "pastDueChurnDays": .null,
                ]
            )

            let changed = try await h.gateway.execute(
                uri: settingsURI,
                method: .patch,
                headers: auth,
                body: ByteBuffer(string: #"{"cancellation": "cancellation"}"#)
            )
            #expect(changed.status == .ok, "\(String(buffer: changed.body))")
            #expect(String(buffer: changed.body).contains(#""rebuildQueued":true"#))
            try await Self.doneJobs(connection.id, count: 2)
            before = try await metrics()
            #expect(before["latest"]?["mrr"] == .number(10_000))
            #expect(before["movements"]?["churned"] == .number(10_000))

            let stranger = try await ConnectHarness.user()
            let refused = try await h.gateway.execute(
                uri: settingsURI,
                method: .patch,
                headers: [.authorization: "Bearer \(stranger.token)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"cancellation": "period-end"}"#)
            )
            #expect(refused.status == .notFound)
            let same = try await h.gateway.execute(
                uri: settingsURI,
                method: .patch,
                headers: auth,
                body: ByteBuffer(string: #"{"cancellation": "cancellation"}"#)
            )
            #expect(String(buffer: same.body).contains(#""rebuildQueued":false"#))
        }
    }
}
