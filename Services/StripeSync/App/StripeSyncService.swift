import ServiceKit
import ServiceLifecycle
import StripeKit

/// stripe-sync: Stripe Connect and the workers that copy connected accounts and compute their metrics.
public enum StripeSyncService: RevmeshService {
    public static let descriptor = ServiceDescriptor(
        name: "stripe-sync",
        schema: "sync",
        defaultPort: 8102,
        migrations: SyncMigrations.all,
        sharedSchemas: [StreamEvents.migrations]
    )

    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {
        _ = try SyncSettings.load(from: configuration.environment, internalSecret: configuration.internalSecret)
    }

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        try await buildApplication(
            configuration,
            settings: SyncSettings.load(from: configuration.environment, internalSecret: configuration.internalSecret)
        )
    }

    public static func buildApplication(_ configuration: ServiceConfiguration, settings: SyncSettings) async -> ServiceApplication {
        var workers: [any Service] = []
        var app = await buildServiceApplication(descriptor, configuration: configuration) { router, environment in
            let http = environment.internalClient.http
            let platform = StripeClient(http: http, secretKey: settings.stripeSecretKey, apiBase: settings.stripeAPIBase, logger: environment.logger)
            if settings.serveAPI {
                ConnectRoutes(
                    postgres: environment.postgres,
                    settings: settings,
                    platform: platform,
                    connect: StripeClient(http: http, secretKey: settings.stripeSecretKey, apiBase: settings.connectBase, logger: environment.logger)
                ).addRoutes(to: router)
                MetricsRoutes(postgres: environment.postgres).addRoutes(to: router)
                ConnectWebhook(postgres: environment.postgres, stripe: platform).addRoutes(to: router)
                let hub = StreamHub(postgres: environment.postgres, logger: environment.logger, limits: settings.streamLimits)
                StreamRoute(hub: hub).addRoutes(to: router)
                workers.append(hub)
                SettingsRoutes(postgres: environment.postgres).addRoutes(to: router)
            }
            let usage = UsageReporter(postgres: environment.postgres, client: environment.internalClient, usageURL: settings.insightsUsageURL)
            var syncClient = platform
            syncClient.rateLimiter = settings.ratePerAccount > 0 ? RequestRateLimiter(rate: settings.ratePerAccount) : nil
            // Processes that sync also refresh the metrics webhooks changed.
            if settings.workers > 0 {
                workers.append(MetricsRefresher(postgres: environment.postgres, logger: environment.logger, metrics: environment.metrics))
            }
            workers += (0..<settings.workers).map { _ in
                SyncWorker(
                    postgres: environment.postgres,
                    stripe: syncClient,
                    usage: usage,
                    logger: environment.logger,
                    metrics: environment.metrics,
                    lease: settings.jobLease,
                    pollInterval: settings.pollInterval
                )
            }
        }
        app.addServices(workers)
        return app
    }
}
