import ServiceKit
import ServiceLifecycle

/// insights-usage: usage metering against tier limits, overage billing, and AI insights on stripe-sync's metrics.
public enum InsightsUsageService: RevmeshService {
    public static let descriptor = ServiceDescriptor(
        name: "insights-usage",
        schema: "usage",
        defaultPort: 8103,
        migrations: UsageMigrations.all,
        sharedSchemas: [StreamEvents.migrations]
    )

    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {
        _ = try UsageSettings.load(from: configuration.environment)
    }

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        try await buildApplication(configuration, settings: UsageSettings.load(from: configuration.environment))
    }

    public static func buildApplication(_ configuration: ServiceConfiguration, settings: UsageSettings) async -> ServiceApplication {
        var analyticsServices: [any Service] = []
        var app = await buildServiceApplication(descriptor, configuration: configuration) { router, environment in
            let accounts = AccountDirectory(client: environment.internalClient, billingURL: settings.billingURL, ttl: settings.accountCacheTTL)
            UsageRoutes(postgres: environment.postgres, accounts: accounts).addRoutes(to: router)
            InsightRoutes(
                postgres: environment.postgres,
                accounts: accounts,
                metrics: MetricsSource(client: environment.internalClient, syncURL: settings.stripeSyncURL),
                narrator: settings.model.map { ModelNarrator(http: environment.internalClient.http, settings: $0) }
            ).addRoutes(to: router)
            let analytics = AnalyticsQueries(postgres: environment.postgres)
            AnalyticsRoutes(queries: analytics, settings: settings.analytics).addRoutes(to: router)
            analyticsServices = [
                AnalyticsUpkeep(queries: analytics, retentionDays: settings.analytics.retentionDays, logger: environment.logger),
                ActivityAnnouncer(postgres: environment.postgres, interval: settings.analytics.activityInterval, logger: environment.logger),
            ]
        }
        app.addServices(analyticsServices)
        return app
    }
}
