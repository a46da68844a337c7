@testable import BillingWebhooks
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PlanKit
import PostgresNIO
import Sandbox
import ServiceKit
import StripeKit
import TestSupport
import Testing

/// billing-webhooks behind the real gateway.conf, with the sandbox as Stripe sending its events to the gateway.
struct BillingHarness: Sendable {
    static let catalog = PlanCatalog(priceIDs: [
        .professional: "price_sandbox_professional",
        .business: "price_sandbox_business",
    ])
    static let appURL = "https://app.example.com"

    let gateway: any TestClientProtocol
    let billing: any TestClientProtocol
    let sandbox: Sandbox
    let stripeAPI: any TestClientProtocol

    static func run(_ test: @Sendable (BillingHarness) async throws -> Void) async throws {
        try await TestSupport.withSandbox { sandbox, stripeAPI in
            let settings = BillingSettings(stripeSecretKey: "sk_test_billing", stripeAPIBase: stripeAPI.baseURL, catalog: catalog, appURL: appURL)
            let app = await BillingWebhooksService.buildApplication(try TestSupport.serviceConfiguration(), settings: settings)
            try await app.test(.live) { billing in
                try await TestSupport.withGateway(services: ["billing-webhooks": billing.baseURL]) { gateway in
                    sandbox.stripe.setWebhook(
                        url: gateway.baseURL + "/api/webhooks/stripe-billing",
                        secret: TestSupport.stripeWebhookSecret
                    )
                    try await test(BillingHarness(gateway: gateway, billing: billing, sandbox: sandbox, stripeAPI: stripeAPI))
                }
            }
        }
    }

    /// A new user with a token, unique to the test.
    static func newUser() async throws -> (id: String, token: String) {
        let id = "user-" + UUID().uuidString.lowercased()
        return (id, try await TestSupport.userToken(id, email: "\(id)@example.com"))
    }

    func me(_ token: String) async throws -> Profile {
        let response = try await gateway.execute(uri: "/api/me", method: .get, headers: [.authorization: "Bearer \(token)"])
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try decoder.decode(Profile.self, from: Data(buffer: response.body))
    }

    func checkout(_ token: String, plan: String) async throws -> TestResponse {
        try await gateway.execute(
            uri: "/api/create-checkout",
            method: .post,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: ByteBuffer(string: #"{"plan":"\#(plan)"}"#)
        )
    }

    /// Checks out `plan` and pays on the sandbox's checkout page; its events have arrived when this returns.
    func upgrade(_ token: String, to plan: String) async throws -> String {
        try await TestSupport.upgrade(gateway: gateway, stripe: stripeAPI, sandbox: sandbox, token: token, plan: plan)
    }

    /// Calls the sandbox's Stripe API as the operator would (the Stripe dashboard, say).
    func stripe(_ method: HTTPRequest.Method, _ path: String, form: String = "") async throws -> TestResponse {
        try await stripeAPI.execute(
            uri: path,
            method: method,
            headers: [.authorization: "Bearer sk_test_operator", .contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: form)
        )
    }

    /// Posts an event through the gateway, signed with the webhook secret (or `signature` as given).
    func deliver(_ payload: String, signature: String? = nil) async throws -> TestResponse {
        let header = signature ?? StripeWebhookSignature.header(for: Data(payload.utf8), secret: TestSupport.stripeWebhookSecret, timestamp: Date())
        return try await gateway.execute(
            uri: "/api/webhooks/stripe-billing",
            method: .post,
            headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: header],
            body: ByteBuffer(string: payload)
        )
    }

    /// The sandbox's current subscription as Stripe JSON.
    func subscriptionJSON(_ id: String) async throws -> [String: Any] {
        let response = try await stripe(.get, "/v1/subscriptions/\(id)")
        return try #require(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    /// A `customer.subscription.*` event for `subscription` with its price replaced, stamped `created`.
    func subscriptionEvent(_ type: String, subscription: [String: Any], price: String, created: Int) throws -> (id: String, payload: String) {
        var subscription = subscription
        var items = subscription["items"] as! [String: Any]
        var data = items["data"] as! [[String: Any]]
        var priceObject = data[0]["price"] as! [String: Any]
        priceObject["id"] = price
        data[0]["price"] = priceObject
        items["data"] = data
        subscription["items"] = items
        let id = "evt_test_" + UUID().uuidString.lowercased().filter { $0 != "-" }
        let event: [String: Any] = [
            "id": id, "object": "event", "type": type, "created": created, "livemode": false, "data": ["object": subscription],
        ]
        return (id, String(decoding: try JSONSerialization.data(withJSONObject: event), as: UTF8.self))
    }

    var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// One number from the database.
    static func count(_ query: PostgresQuery) async throws -> Int {
        try await TestSupport.withPostgres { client in
            for try await value in try await client.query(query, logger: TestSupport.logger).decode(Int.self) { return value }
            return 0
        }
    }

    static func outcome(of eventID: String) async throws -> String? {
        try await TestSupport.withPostgres { client in
            let rows = try await client.query("SELECT outcome FROM billing.stripe_events WHERE event_id = \(eventID)", logger: TestSupport.logger)
            for try await value in rows.decode(String.self) { return value }
            return nil
        }
    }
}
