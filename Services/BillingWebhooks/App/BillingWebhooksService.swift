import ServiceKit

/// billing-webhooks: accounts and plan tiers, Stripe Checkout and Stripe billing webhooks.
public enum BillingWebhooksService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "billing-webhooks", schema: "billing", defaultPort: 8101, migrations: [])

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration)
    }
}
