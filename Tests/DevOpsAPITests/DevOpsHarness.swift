import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PlanKit
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import BillingWebhooks
@testable import DevOpsAPI

/// devops-api and billing-webhooks behind the real gateway.conf, with the sandbox as Stripe.
struct DevOpsHarness: Sendable {
    static let webhookSecret = "devops-webhook-secret-0123456789abcdef"

    let gateway: any TestClientProtocol
    let stripe: any TestClientProtocol
    let sandbox: Sandbox

    /// Where the sandbox's fakes of the monitored systems answer.
    var sandboxURL: String { stripe.baseURL }

    static func run(_ test: @Sendable (DevOpsHarness) async throws -> Void) async throws {
        try await TestSupport.withSandbox { sandbox, stripe in
            let billingSettings = BillingSettings(
                stripeSecretKey: "sk_test_devops",
                stripeAPIBase: stripe.baseURL,
                catalog: PlanCatalog(priceIDs: [.professional: "price_sandbox_professional", .business: "price_sandbox_business"]),
                appURL: "https://app.example.com"
            )
            let billing = await BillingWebhooksService.buildApplication(try TestSupport.serviceConfiguration(), settings: billingSettings)
            try await billing.test(.live) { billingClient in
                // devops-api reads the gateway's metrics and the gateway routes to devops-api: devops-api gets a port
                // chosen in advance and starts once the gateway's address is known; if another test's server takes
                // that port first, everything is set up again on another.
                for attempt in 1... {
                    do {
                        try await run(test, billingURL: billingClient.baseURL, stripe: stripe, sandbox: sandbox)
                        return
                    } catch is PortTaken where attempt < 3 {
                        continue
                    }
                }
            }
        }
    }

    /// The gateway and devops-api on a port chosen in advance, for one test.
    static func run(
        _ test: @Sendable (DevOpsHarness) async throws -> Void,
        billingURL: String,
        stripe: any TestClientProtocol,
        sandbox: Sandbox
    ) async throws {
        let devopsPort = TestSupport.freePort()
        let services = ["billing-webhooks": billingURL, "devops-api": "http://127.0.0.1:\(devopsPort)"]
        try await TestSupport.withGatewayAndMetrics(services: services) { gateway, metricsURL in
            var settings = DevOpsSettings(billingURL: billingURL, gatewayMetricsURL: metricsURL, webhookSecret: webhookSecret)
            settings.usageFlushInterval = .milliseconds(100)
            settings.opsCipher = SecretCipher(currentKeyID: "k1", keys: ["k1": SymmetricKey(data: Data(repeating: 7, count: 32))])
            // Checks run when a test asks (`…/check`); the scheduler is tested with processes of its own.
            settings.monitorWorkers = 0
            var configuration = try TestSupport.serviceConfiguration()
            configuration.port = devopsPort
            let devops = await DevOpsAPIService.buildApplication(configuration, settings: settings)
            try await TestSupport.withRunningService(devops, named: DevOpsAPIService.descriptor.name, port: devopsPort) {
                sandbox.stripe.setWebhook(url: gateway.baseURL + "/api/webhooks/stripe-billing", secret: TestSupport.stripeWebhookSecret)
                try await test(DevOpsHarness(gateway: gateway, stripe: stripe, sandbox: sandbox))
            }
        }
    }

    func admin(_ method: HTTPRequest.Method, _ uri: String, body: String? = nil) async throws -> TestResponse {
        let token = try await TestSupport.userToken("devops-admin", email: "ops@example.com", admin: true)
        return try await gateway.execute(
            uri: uri,
            method: method,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) }
        )
    }

    func generateKey(name: String = "devops module", permissions: [String]? = nil) async throws -> KeyRoutes.GeneratedKey {
        let list = permissions.map { #","permissions":[\#($0.map { "\"\($0)\"" }.joined(separator: ","))]"# } ?? ""
        let response = try await admin(.post, "/api/devops/generate-key", body: #"{"name":"\#(name)"\#(list)}"#)
        #expect(response.status == .created, "\(String(buffer: response.body))")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(KeyRoutes.GeneratedKey.self, from: Data(buffer: response.body))
    }

    func sync(_ path: String, key: String) async throws -> TestResponse {
        try await gateway.execute(uri: "/api/devops/sync/\(path)", method: .get, headers: [HTTPField.Name("x-api-key")!: key])
    }

    func json(_ response: TestResponse) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
    }

    func webhook(_ body: String, key: String, secret: String = webhookSecret) async throws -> TestResponse {
        let signature =
            "sha256=" + Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))).hexString
        return try await gateway.execute(
            uri: "/api/devops/webhook",
            method: .post,
            headers: [HTTPField.Name("x-api-key")!: key, HTTPField.Name("X-Signature")!: signature, .contentType: "application/json"],
            body: ByteBuffer(string: body)
        )
    }

    static func newUser(_ label: String) async throws -> (id: String, token: String) {
        let id = "\(label)-" + UUID().uuidString.lowercased()
        return (id, try await TestSupport.userToken(id, email: "\(id)@example.com"))
    }
}

extension JSONValue {
    var int: Int64? {
        if case .number(let value) = self { return NSDecimalNumber(decimal: value).int64Value }
        return nil
    }

    var items: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }

    var fields: [String: JSONValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }
}
