import ServiceKit
import StripeKit

/// stripe-sync: Stripe Connect and the workers that copy connected accounts and compute their metrics.
public enum StripeSyncService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "stripe-sync", schema: "sync", defaultPort: 8102, migrations: SyncMigrations.all)

    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {
        _ = try SyncSettings.load(from: configuration.environment, internalSecret: configuration.internalSecret)
    }

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        try await buildApplication(configuration, settings: SyncSettings.load(from: configuration.environment, internalSecret: configuration.internalSecret))
    }

    public static func buildApplication(_ configuration: ServiceConfiguration, settings: SyncSettings) async -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration) { router, environment in
            let http = environment.internalClient.http
            ConnectRoutes(
                postgres: environment.postgres,
                settings: settings,
                platform: StripeClient(http: http, secretKey: settings.stripeSecretKey, apiBase: settings.stripeAPIBase, logger: environment.logger),
                connect: StripeClient(http: http, secretKey: settings.stripeSecretKey, apiBase: settings.connectBase, logger: environment.logger)
            ).addRoutes(to: router)
        }
    }
}
