import AsyncHTTPClient
import ServiceKit

/// crm-relay: durable delivery of registrations and repair bookings to the CRM.
public enum CRMRelayService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "crm-relay", schema: "crm", defaultPort: 8105, migrations: RelayMigrations.all)

    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {
        _ = try RelaySettings.load(from: configuration.environment)
    }

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        try await buildApplication(configuration, settings: RelaySettings.load(from: configuration.environment))
    }

    public static func buildApplication(_ configuration: ServiceConfiguration, settings: RelaySettings) async -> ServiceApplication {
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .internalCalls)
        var worker: RelayWorker?
        var app = await buildServiceApplication(descriptor, configuration: configuration) { router, environment in
            let relay = RelayWorker(settings: settings, postgres: environment.postgres, http: http, logger: environment.logger)
            worker = relay
            EventRoutes(postgres: environment.postgres, strictPhotoURLs: settings.strictPhotoURLs).addRoutes(to: router)
            IntegrationRoutes(postgres: environment.postgres, http: http, settings: settings, worker: relay).addRoutes(to: router)
        }
        // The worker stops before the client it delivers with is shut down.
        app.addServices(worker!, HTTPClientService(client: http))
        return app
    }
}
