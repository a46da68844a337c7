@testable import BillingWebhooks
import Foundation
import HummingbirdTesting
import PlanKit
import StripeKit
import TestSupport
import Testing

/// The product's upgrade path, end to end: gateway, billing-webhooks, Postgres and the sandbox as Stripe.
@Suite struct UpgradePathTests {
    @Test func aStarterUserUpgradesChangesPlanAndCancels() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            let fresh = try await h.me(user.token)
            #expect(fresh.subscriptionTier == .starter)
            #expect(fresh.limits == TierLimits(scenarios: 0, aiInsights: 5, transactionVolume: 10_000))
            #expect(fresh.email == "\(user.id)@example.com")

            let subscriptionID = try await h.upgrade(user.token, to: "professional")
            let professional = try await h.me(user.token)
            #expect(professional.subscriptionTier == .professional)
            #expect(professional.subscriptionStatus == "active")
            #expect(professional.limits == TierLimits(scenarios: 3, aiInsights: 50, transactionVolume: 100_000))
            #expect(professional.stripeSubscriptionID == subscriptionID)
            #expect(professional.subscriptionCurrentPeriodEnd.map { $0 > Date() } == true)

            let update = try await h.stripe(.post, "/v1/subscriptions/\(subscriptionID)", form: "items[0][price]=price_sandbox_business")
            #expect(update.status == .ok)
            let business = try await h.me(user.token)
            #expect(business.subscriptionTier == .business)
            #expect(business.limits.scenarios == nil)
            #expect(business.limits.aiInsights == 200)

            let cancel = try await h.stripe(.delete, "/v1/subscriptions/\(subscriptionID)")
            #expect(cancel.status == .ok)
            let canceled = try await h.me(user.token)
            #expect(canceled.subscriptionTier == .starter)
            #expect(canceled.subscriptionStatus == "canceled")
            #expect(canceled.limits == Tier.starter.limits)

            let history = try await BillingHarness.count("SELECT count(*)::int FROM billing.subscription_events WHERE user_id = \(user.id)")
            #expect(history >= 3)
        }
    }

    @Test func theFirstPaymentIsInTheLedger() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            _ = try await h.upgrade(user.token, to: "professional")
            let cents = try await BillingHarness.count(
                "SELECT COALESCE(sum(amount_cents), 0)::int FROM billing.payments WHERE user_id = \(user.id) AND currency = 'usd'"
            )
            #expect(cents == 2_900)
        }
    }

    @Test func aSecondCheckoutReusesTheStripeCustomer() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            #expect(try await h.checkout(user.token, plan: "professional").status == .ok)
            #expect(try await h.checkout(user.token, plan: "business").status == .ok)
            let customerCreations = h.sandbox.faults.requests.filter { $0.method == "POST" && $0.path == "/v1/customers" }
            #expect(customerCreations.count == 1)
            let sessions = h.sandbox.faults.requests.filter { $0.path == "/v1/checkout/sessions" }
            #expect(sessions.count == 2)
            let form = Dictionary(FormEncoding.decode(sessions[0].body), uniquingKeysWith: { $1 })
            #expect(form["client_reference_id"] == user.id)
            #expect(form["metadata[user_id]"] == user.id)
            #expect(form["metadata[tier]"] == "professional")
            #expect(form["success_url"] == "\(BillingHarness.appURL)/dashboard?upgraded=true")
            #expect(form["cancel_url"] == "\(BillingHarness.appURL)/pricing")
            #expect(form["line_items[0][price]"] == "price_sandbox_professional")
        }
    }

    @Test(arguments: [
        ("gold", "unknown_plan"),
        ("starter", "plan_not_purchasable"),
        ("enterprise", "plan_unavailable"),
    ])
    func plansThatCannotBeBoughtAre400(plan: String, code: String) async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            let response = try await h.checkout(user.token, plan: plan)
            #expect(response.status == .badRequest)
            #expect(String(buffer: response.body).contains(#""code":"\#(code)""#))
            #expect(h.sandbox.faults.requests.isEmpty)
        }
    }

    @Test func pricingListsEveryTierAndWhatCanBeBought() async throws {
        try await BillingHarness.run { h async throws in
            let response = try await h.gateway.execute(uri: "/api/pricing", method: .get)
            #expect(response.status == .ok)
            let pricing = try JSONDecoder().decode(CheckoutRoutes.Pricing.self, from: Data(buffer: response.body))
            #expect(pricing.tiers.map(\.tier) == Tier.allCases)
            #expect(pricing.tiers.filter(\.checkoutAvailable).map(\.tier) == [.professional, .business])
            #expect(pricing.tiers.first { $0.tier == .enterprise }?.price == .usd(29_900))
        }
    }

    @Test func stripeRefusingCheckoutIsA502InTheEnvelope() async throws {
        try await BillingHarness.run { h async throws in
            let user = try await BillingHarness.newUser()
            h.sandbox.faults.add(.init(pathPrefix: "/v1/customers", status: 500, stripeShouldRetry: false, times: nil))
            let response = try await h.checkout(user.token, plan: "professional")
            #expect(response.status == .badGateway)
            #expect(String(buffer: response.body).contains("stripe_error"))
        }
    }
}
