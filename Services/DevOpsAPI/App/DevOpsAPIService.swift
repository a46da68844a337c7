import Foundation
import ServiceKit

/// devops-api: API keys, data-sync endpoints and webhooks for the external DevOps module.
public enum DevOpsAPIService: RevmeshService {
    public static let descriptor = ServiceDescriptor(
        name: "devops-api",
        schema: "devops",
        defaultPort: 8106,
        migrations: DevOpsMigrations.all,
        sharedSchemas: [StreamEvents.migrations]
    )

    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {
        _ = try DevOpsSettings.load(from: configuration.environment)
    }

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        try await buildApplication(configuration, settings: DevOpsSettings.load(from: configuration.environment))
    }

    public static func buildApplication(_ configuration: ServiceConfiguration, settings: DevOpsSettings) async -> ServiceApplication {
        var recorder: UsageRecorder?
        var scheduler: MonitorScheduler?
        var app = await buildServiceApplication(descriptor, configuration: configuration) { router, environment in
            if settings.webhookSecret == nil {
                environment.logger.warning("DEVOPS_WEBHOOK_INSECURE=true: DevOps webhooks are accepted without a signature")
            }
            let usage = UsageRecorder(postgres: environment.postgres, interval: settings.usageFlushInterval, logger: environment.logger)
            recorder = usage
            KeyRoutes(postgres: environment.postgres).addRoutes(to: router)
            SyncRoutes(client: environment.internalClient, settings: settings, usage: usage).addRoutes(to: router)
            WebhookRoutes(postgres: environment.postgres, settings: settings, usage: usage).addRoutes(to: router)
            StatusRoutes(postgres: environment.postgres, client: environment.internalClient, settings: settings, usage: usage).addRoutes(to: router)
            let runner = settings.opsCipher.map { cipher in
                CheckRunner(
                    postgres: environment.postgres,
                    http: environment.internalClient.http,
                    queries: IntegrationQueries(postgres: environment.postgres, cipher: cipher),
                    logger: environment.logger,
                    workerID: "monitor-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
                )
            }
            if runner == nil { environment.logger.notice("OPS_ENCRYPTION_KEY is not set: no integrations can be monitored") }
            IntegrationRoutes(runner: runner).addRoutes(to: router)
            OverviewRoutes(postgres: environment.postgres).addRoutes(to: router)
            BudgetRoutes(postgres: environment.postgres).addRoutes(to: router)
            RetellWebhookRoutes(queries: runner?.queries).addRoutes(to: router)
            if let runner, settings.monitorWorkers > 0 {
                scheduler = MonitorScheduler(runner: runner, workers: settings.monitorWorkers, tick: settings.monitorTick)
            }
        }
        app.addServices(recorder!)
        if let scheduler { app.addServices(scheduler) }
        return app
    }
}
