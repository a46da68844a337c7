import AsyncHTTPClient
import ServiceKit
import StripeKit

/// billing-webhooks: accounts and plan tiers, Stripe Checkout and Stripe billing webhooks.
public enum BillingWebhooksService: RevmeshService {
    public static let descriptor = ServiceDescriptor(
        name: "billing-webhooks",
        schema: "billing",
        defaultPort: 8101,
        migrations: BillingMigrations.all
    )

    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {
        _ = try BillingSettings.load(from: configuration.environment)
    }

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        try await buildApplication(configuration, settings: BillingSettings.load(from: configuration.environment))
    }

    public static func buildApplication(_ configuration: ServiceConfiguration, settings: BillingSettings) async -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration) { router, environment in
            settings.logDisabledTiers(environment.logger)
            let stripe = StripeClient(
                http: environment.internalClient.http,
                secretKey: settings.stripeSecretKey,
                apiBase: settings.stripeAPIBase,
                logger: environment.logger
            )
            AccountRoutes(postgres: environment.postgres).addRoutes(to: router)
            CheckoutRoutes(postgres: environment.postgres, stripe: stripe, settings: settings).addRoutes(to: router)
            StripeBillingWebhook(postgres: environment.postgres, stripe: stripe, catalog: settings.catalog, commissionRates: settings.commissionRates)
                .addRoutes(to: router)
            PartnerRoutes(postgres: environment.postgres).addRoutes(to: router)
        }
    }
}
