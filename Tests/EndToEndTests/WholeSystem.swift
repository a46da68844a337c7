import BillingWebhooks
import Foundation
import HummingbirdTesting
import PostgresNIO
import Sandbox
import ServiceKit
import StripeSync
import TestSupport
import Testing

/// The six real services behind the real `gateway.conf`, against the sandbox, in one database.
struct WholeSystem: Sendable {
    let gateway: any TestClientProtocol
    let sandbox: Sandbox
    let stripe: any TestClientProtocol
}

/// Runs `body` against every service live: billing-webhooks and stripe-sync first (insights-usage reads plans and
/// snapshots from them), then the rest, then the gateway; every process must still be alive afterwards.
func withWholeSystem(
    database: PostgresClient.Configuration,
    sandbox settings: SandboxSettings = SandboxSettings(),
    variables extra: [String: String] = [:],
    _ body: @Sendable (WholeSystem) async throws -> Void
) async throws {
    try await TestSupport.withSandbox(settings) { sandbox, stripe in
        let variables = TestSupport.serviceVariables.merging([
            "STRIPE_API_BASE": stripe.baseURL,
            "STRIPE_CONNECT_BASE": stripe.baseURL,
            "STRIPE_PROFESSIONAL_PRICE_ID": "price_sandbox_professional",
            "STRIPE_BUSINESS_PRICE_ID": "price_sandbox_business",
            "APP_URL": "https://app.example.com",
            "CRM_WEBHOOK_URL": stripe.baseURL + "/crm/webhooks",
            "CRM_API_KEY": sandbox.crm.apiKey,
            "REVIO_API_URL": stripe.baseURL + "/revio",
        ]) { $1 }.merging(extra) { $1 }
        let providers = [BillingWebhooksService.self, StripeSyncService.self] as [any RevmeshService.Type]
        var first: [ServiceApplication] = []
        for service in providers {
            first.append(try await service.buildApplication(try TestSupport.serviceConfiguration(environment: variables, database: database)))
        }
        try await withLiveApplications(first) { firstClients in
            let urls = ["BILLING_WEBHOOKS_URL": firstClients[0].baseURL, "STRIPE_SYNC_URL": firstClients[1].baseURL]
            var rest: [ServiceApplication] = []
            for service in allServiceTypes where !providers.contains(where: { $0 == service }) {
                let environment = variables.merging(urls) { $1 }
                rest.append(try await service.buildApplication(try TestSupport.serviceConfiguration(environment: environment, database: database)))
            }
            try await withLiveApplications(rest) { restClients in
                let clients = firstClients + restClients
                var services: [String: String] = [:]
                for (descriptor, client) in zip(allServices, clients) { services[descriptor.name] = client.baseURL }
                try await TestSupport.withGateway(services: services) { gateway in
                    sandbox.stripe.setWebhook(url: gateway.baseURL + "/api/webhooks/stripe-billing", secret: TestSupport.stripeWebhookSecret)
                    try await body(WholeSystem(gateway: gateway, sandbox: sandbox, stripe: stripe))
                    for client in clients + [gateway] {
                        #expect(try await client.execute(uri: "/health", method: .get).status == .ok, "every process is still alive")
                    }
                }
            }
        }
    }
}
