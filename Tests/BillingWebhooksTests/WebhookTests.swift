@testable import BillingWebhooks
import Contracts
import Foundation
import HummingbirdTesting
import NIOCore
import PlanKit
import ServiceKit
import StripeKit
import TestSupport
import Testing

/// The webhook's guarantees: once per event, in Stripe's order, never half-written.
@Suite struct WebhookTests {
    @Test func aRedeliveredEventChangesNothingTheSecondTime() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            _ = try await h.upgrade(user.token, to: "professional")
            let completed = try #require(h.sandbox.stripe.sentEvents.last { $0.type == "checkout.session.completed" })
            #expect(completed.deliveries == [200])

            let again = try await h.deliver(completed.payload)
            #expect(again.status == .ok)
            #expect(String(buffer: again.body).contains("duplicate"))
            async let first = h.deliver(completed.payload)
            async let second = h.deliver(completed.payload)
            #expect(try await [first.status, second.status] == [.ok, .ok])

            let rows = try await BillingHarness.count("SELECT count(*)::int FROM billing.subscription_events WHERE stripe_event_id = \(completed.id)")
            #expect(rows == 1)
        }
    }

    @Test func aNewEventDeliveredTwiceAtOnceIsAppliedOnce() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            let subscriptionID = try await h.upgrade(user.token, to: "professional")
            let subscription = try await h.subscriptionJSON(subscriptionID)
            let event = try h.subscriptionEvent(
                "customer.subscription.updated",
                subscription: subscription,
                price: "price_sandbox_business",
                created: Int(Date().timeIntervalSince1970) + 5
            )
            async let first = h.deliver(event.payload)
            async let second = h.deliver(event.payload)
            #expect(try await [first.status, second.status] == [.ok, .ok])
            let rows = try await BillingHarness.count("SELECT count(*)::int FROM billing.subscription_events WHERE stripe_event_id = \(event.id)")
            #expect(rows == 1)
            #expect(try await h.me(user.token).subscriptionTier == .business)
        }
    }

    @Test func anOlderStateArrivingLateDoesNotOverwriteANewerOne() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            let subscriptionID = try await h.upgrade(user.token, to: "professional")
            let subscription = try await h.subscriptionJSON(subscriptionID)
            let now = Int(Date().timeIntervalSince1970)
            let newer = try h.subscriptionEvent("customer.subscription.updated", subscription: subscription, price: "price_sandbox_business", created: now + 100)
            let older = try h.subscriptionEvent("customer.subscription.updated", subscription: subscription, price: "price_sandbox_professional", created: now + 50)
            #expect(try await h.deliver(newer.payload).status == .ok)
            #expect(try await h.deliver(older.payload).status == .ok)
            #expect(try await BillingHarness.outcome(of: older.id) == "stale")
            let profile = try await h.me(user.token)
            #expect(profile.subscriptionTier == .business)
            let storedTier = try await TestSupport.withPostgres { client in
                let rows = try await client.query(
                    "SELECT tier FROM billing.user_subscriptions WHERE stripe_subscription_id = \(subscriptionID)",
                    logger: TestSupport.logger
                )
                for try await tier in rows.decode(String.self) { return tier }
                return ""
            }
            #expect(storedTier == "business")
        }
    }

    @Test func anUnknownPriceGivesStarterAndIsFlagged() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            let subscriptionID = try await h.upgrade(user.token, to: "professional")
            let event = try h.subscriptionEvent(
                "customer.subscription.updated",
                subscription: try await h.subscriptionJSON(subscriptionID),
                price: "price_nobody_configured",
                created: Int(Date().timeIntervalSince1970) + 10
            )
            #expect(try await h.deliver(event.payload).status == .ok)
            let profile = try await h.me(user.token)
            #expect(profile.subscriptionTier == .starter)
            #expect(profile.limits == Tier.starter.limits)
            #expect(try await BillingHarness.outcome(of: event.id) == "applied:unknown_price")
        }
    }

    @Test func aFailedPaymentMarksTheAccountPastDue() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            let subscriptionID = try await h.upgrade(user.token, to: "professional")
            let paid = try #require(h.sandbox.stripe.sentEvents.last { $0.type == "invoice.payment_succeeded" })
            var event = try #require(JSONSerialization.jsonObject(with: Data(paid.payload.utf8)) as? [String: Any])
            event["id"] = "evt_failed_" + UUID().uuidString.lowercased()
            event["type"] = "invoice.payment_failed"
            event["created"] = Int(Date().timeIntervalSince1970) + 30
            let payload = String(decoding: try JSONSerialization.data(withJSONObject: event), as: UTF8.self)
            #expect(try await h.deliver(payload).status == .ok)
            let profile = try await h.me(user.token)
            #expect(profile.subscriptionStatus == "past_due")
            #expect(profile.subscriptionTier == .professional)
            #expect(profile.stripeSubscriptionID == subscriptionID)
        }
    }

    @Test func aBadSignatureNeverReachesTheService() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            let subscriptionID = try await h.upgrade(user.token, to: "professional")
            let event = try h.subscriptionEvent(
                "customer.subscription.deleted",
                subscription: try await h.subscriptionJSON(subscriptionID),
                price: "price_sandbox_professional",
                created: Int(Date().timeIntervalSince1970) + 10
            )
            let forged = StripeWebhookSignature.header(for: Data(event.payload.utf8), secret: "whsec_somebody_else", timestamp: Date())
            let response = try await h.deliver(event.payload, signature: forged)
            #expect(response.status == .unauthorized)
            let old = StripeWebhookSignature.header(for: Data(event.payload.utf8), secret: TestSupport.stripeWebhookSecret, timestamp: Date().addingTimeInterval(-301))
            #expect(try await h.deliver(event.payload, signature: old).status == .unauthorized)
            #expect(try await BillingHarness.outcome(of: event.id) == nil)
            #expect(try await h.me(user.token).subscriptionTier == .professional)
        }
    }

    @Test(arguments: [
        #"not json"#,
        #"{"id":"evt_malformed_1","type":"customer.subscription.updated","created":1}"#,
        #"{"id":"evt_malformed_2","type":"customer.subscription.updated","created":1,"data":{"object":{"object":"subscription","id":5}}}"#,
        #"{"id":"evt_malformed_3","type":"invoice.payment_succeeded","created":1,"data":{"object":{"object":"invoice","id":"in_1"}}}"#,
    ])
    func aMalformedEventIs400AndWritesNothing(payload: String) async throws {
        try await BillingHarness.run { h async throws in
            let response = try await h.deliver(payload)
            #expect(response.status == .badRequest)
            #expect(String(buffer: response.body).contains(#""code":"invalid_event""#))
            for id in ["evt_malformed_1", "evt_malformed_2", "evt_malformed_3"] {
                #expect(try await BillingHarness.outcome(of: id) == nil)
            }
        }
    }

    @Test func unknownEventTypesAreRecordedAndAnswered200() async throws {
        try await BillingHarness.run { h async throws in
            let id = "evt_unknown_" + UUID().uuidString.lowercased()
            let payload = #"{"id":"\#(id)","type":"customer.tax_id.created","created":1,"data":{"object":{"object":"tax_id","id":"txi_1"}}}"#
            #expect(try await h.deliver(payload).status == .ok)
            #expect(try await BillingHarness.outcome(of: id) == "ignored:unhandled_type")
        }
    }
}

@Suite struct InternalAccountTests {
    @Test func otherServicesReadAUsersPlanAndNobodyElseCan() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            _ = try await h.upgrade(user.token, to: "professional")
            let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
            let service = try await tokens.mint(.service("insights-usage"), issuer: "service:insights-usage")
            let response = try await h.billing.execute(uri: "/internal/accounts/\(user.id)", method: .get, headers: [.revmeshIdentity: service])
            #expect(response.status == .ok)
            let summary = String(buffer: response.body)
            #expect(summary.contains(#""tier":"professional""#))
            #expect(summary.contains(#""exists":true"#))

            let unknown = try await h.billing.execute(uri: "/internal/accounts/nobody-\(UUID())", method: .get, headers: [.revmeshIdentity: service])
            #expect(String(buffer: unknown.body).contains(#""tier":"starter""#))

            // Through the gateway there is no such route; a user's identity is refused by the service itself.
            #expect(try await h.gateway.execute(uri: "/internal/accounts/\(user.id)", method: .get).status == .notFound)
            let asUser = try await tokens.mint(Identity(subject: user.id, role: .user, scheme: "user"), issuer: "gateway")
            let refused = try await h.billing.execute(uri: "/internal/accounts/\(user.id)", method: .get, headers: [.revmeshIdentity: asUser])
            #expect(refused.status == .forbidden)
        }
    }

    @Test func platformStatsCountUsersAndRevenueByTier() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            _ = try await h.upgrade(user.token, to: "business")
            let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
            let service = try await tokens.mint(.service("devops-api"), issuer: "service:devops-api")
            let response = try await h.billing.execute(uri: "/internal/stats", method: .get, headers: [.revmeshIdentity: service])
            #expect(response.status == .ok)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let stats = try decoder.decode(PlatformStats.self, from: Data(buffer: response.body))
            #expect((stats.usersByTier["business"] ?? 0) >= 1)
            #expect(stats.recentSignups >= 1)
            let business = try #require(stats.revenueByTier.first { $0.tier == .business && $0.currency == "usd" })
            // Other tests' subscriptions share the table: this one's 9,900 is part of the business figure.
            #expect(business.mrrCents >= 9_900)
            #expect(stats.recentPayments.contains { $0.amount == .usd(9_900) })
        }
    }
}
