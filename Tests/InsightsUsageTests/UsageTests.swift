import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PlanKit
import Sandbox
import ServiceKit
import StripeSync
import TestSupport
import Testing

@testable import BillingWebhooks
@testable import InsightsUsage

/// insights-usage with billing-webhooks and stripe-sync (no workers) behind the real gateway.conf, the sandbox as
/// Stripe and as the model.
struct UsageHarness: Sendable {
    let gateway: any TestClientProtocol
    let usage: any TestClientProtocol
    let stripe: any TestClientProtocol
    let sandbox: Sandbox

    /// `modelTimeout` nil: no model is configured and the built-in engine writes every narrative.
    static func run(
        billingReachable: Bool = true,
        modelTimeout: Duration? = .seconds(10),
        _ test: @Sendable (UsageHarness) async throws -> Void
    ) async throws {
        try await TestSupport.withSandbox { sandbox, stripe in
            let billingSettings = BillingSettings(
                stripeSecretKey: "sk_test_usage",
                stripeAPIBase: stripe.baseURL,
                catalog: PlanCatalog(priceIDs: [.professional: "price_sandbox_professional", .business: "price_sandbox_business"]),
                appURL: "https://app.example.com"
            )
            let billing = await BillingWebhooksService.buildApplication(try TestSupport.serviceConfiguration(), settings: billingSettings)
            let sync = try await StripeSyncService.buildApplication(
                try TestSupport.serviceConfiguration(environment: TestSupport.serviceVariables.merging(["STRIPE_API_BASE": stripe.baseURL]) { $1 })
            )
            try await billing.test(.live) { billingClient in
                try await sync.test(.live) { syncClient in
                    var settings = UsageSettings(
                        billingURL: billingReachable ? billingClient.baseURL : "http://127.0.0.1:\(TestSupport.refusingPort)"
                    )
                    settings.stripeSyncURL = syncClient.baseURL
                    settings.model = modelTimeout.map {
                        ModelSettings(apiKey: sandbox.openAI.apiKey, baseURL: stripe.baseURL + "/v1", model: "sandbox-model", timeout: $0)
                    }
                    let usageApp = await InsightsUsageService.buildApplication(try TestSupport.serviceConfiguration(), settings: settings)
                    try await usageApp.test(.live) { usage in
                        let services = [
                            "billing-webhooks": billingClient.baseURL, "insights-usage": usage.baseURL, "stripe-sync": syncClient.baseURL,
                        ]
                        try await TestSupport.withGateway(services: services) { gateway in
                            sandbox.stripe.setWebhook(url: gateway.baseURL + "/api/webhooks/stripe-billing", secret: TestSupport.stripeWebhookSecret)
                            try await test(UsageHarness(gateway: gateway, usage: usage, stripe: stripe, sandbox: sandbox))
                        }
                    }
                }
            }
        }
    }

    /// Posts a usage event as a service would.
    func record(_ body: String) async throws -> TestResponse {
        let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
        let token = try await tokens.mint(.service("stripe-sync"), issuer: "service:stripe-sync")
        return try await usage.execute(
            uri: "/internal/usage-events",
            method: .post,
            headers: [.revmeshIdentity: token, .contentType: "application/json"],
            body: ByteBuffer(string: body)
        )
    }

    func current(_ token: String) async throws -> (status: HTTPResponse.Status, body: JSONValue?) {
        let response = try await gateway.execute(uri: "/api/usage/current", method: .get, headers: [.authorization: "Bearer \(token)"])
        return (response.status, try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body)))
    }
}

@Suite struct UsageTests {
    static func user() async throws -> (id: String, token: String) {
        let id = "usage-" + UUID().uuidString.lowercased()
        return (id, try await TestSupport.userToken(id, email: "\(id)@example.com"))
    }

    @Test func aRepeatedKeyReturnsTheOriginalAndADifferentPayloadIs409() async throws {
        try await UsageHarness.run { h async throws in
            let user = try await Self.user()
            let body =
                #"{"userId":"\#(user.id)","eventType":"transaction_volume","stripeConnectionId":"conn_1","amount":1200,"idempotencyKey":"conn_1:2026-11"}"#
            let first = try await h.record(body)
            #expect(first.status == .created)
            let again = try await h.record(body)
            #expect(again.status == .ok)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let decode = { (response: TestResponse) in try decoder.decode(UsageRoutes.RecordedEvent.self, from: Data(buffer: response.body)) }
            #expect(try decode(first) == decode(again))
            let changed = body.replacingOccurrences(of: "1200", with: "1300")
            let conflict = try await h.record(changed)
            #expect(conflict.status == .conflict)
            let invalid = try await h.record(#"{"userId":"","eventType":"scenario","amount":-1,"idempotencyKey":"k"}"#)
            #expect(invalid.status == .badRequest)
            #expect(String(buffer: invalid.body).contains(#""field":"eventType""#))
        }
    }

    @Test func aProfessionalUsersFiftyFirstInsightShowsADollarOfOverage() async throws {
        try await UsageHarness.run { h async throws in
            let user = try await Self.user()
            _ = try await TestSupport.upgrade(gateway: h.gateway, stripe: h.stripe, sandbox: h.sandbox, token: user.token, plan: "professional")
            for index in 0..<51 {
                let status = try await h.record(#"{"userId":"\#(user.id)","eventType":"ai_insight","amount":1,"idempotencyKey":"insight-\#(index)"}"#)
                    .status
                #expect(status == .created)
            }
            #expect(
                try await h.record(#"{"userId":"\#(user.id)","eventType":"transaction_volume","amount":100001,"idempotencyKey":"tx"}"#).status
                    == .created
            )
            let (status, body) = try await h.current(user.token)
            #expect(status == .ok)
            #expect(body?["tier"]?.string == "professional")
            #expect(body?["usage"]?["aiInsights"] == .number(51))
            #expect(body?["aiInsightsRemaining"] == .number(0))
            #expect(body?["transactionVolumeRemaining"] == .number(0))
            #expect(body?["billing"]?["aiInsightsOverageCharge"]?["amount_cents"] == .number(100))
            #expect(body?["billing"]?["transactionVolumeOverageCharge"]?["amount_cents"] == .number(10))
            #expect(body?["billing"]?["total"]?["amount_cents"] == .number(3_010))
        }
    }

    @Test func aNewUserIsOnStarterWithNothingUsed() async throws {
        try await UsageHarness.run { h async throws in
            let user = try await Self.user()
            let (status, body) = try await h.current(user.token)
            #expect(status == .ok)
            #expect(body?["tier"]?.string == "starter")
            #expect(body?["limits"]?["aiInsights"] == .number(5))
            #expect(body?["aiInsightsRemaining"] == .number(5))
            #expect(body?["billing"]?["total"]?["amount_cents"] == .number(0))
        }
    }

    @Test func withoutBillingTheAnswerIsA503NotAGuess() async throws {
        try await UsageHarness.run(billingReachable: false) { h async throws in
            let user = try await Self.user()
            let (status, body) = try await h.current(user.token)
            #expect(status == .serviceUnavailable)
            #expect(body?["error"]?["code"]?.string == "billing_unavailable")
        }
    }
}
