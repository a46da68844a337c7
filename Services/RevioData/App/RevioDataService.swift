import AsyncHTTPClient
import ServiceKit

/// revio-data: Revio billing data grouped for the sales dashboard, cached, degrading gracefully.
public enum RevioDataService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "revio-data", schema: "revio", defaultPort: 8104, migrations: RevioMigrations.all)

    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {
        _ = try RevioSettings.load(from: configuration.environment)
    }

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        try await buildApplication(configuration, settings: RevioSettings.load(from: configuration.environment))
    }

    public static func buildApplication(_ configuration: ServiceConfiguration, settings: RevioSettings) async -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration) { router, environment in
            if settings.apiKey == nil { environment.logger.notice("REVIO_API_KEY is not set: serving the demo data set") }
            let client = settings.apiKey.map { key in
                var client = RevioClient(http: environment.internalClient.http, baseURL: settings.apiURL, apiKey: key, logger: environment.logger)
                client.timeout = settings.timeout
                client.concurrency = settings.concurrency
                return client
            }
            let provider = DatasetProvider(postgres: environment.postgres, client: client, settings: settings, logger: environment.logger)
            RevioRoutes(postgres: environment.postgres, provider: provider, settings: settings).addRoutes(to: router)
        }
    }
}
