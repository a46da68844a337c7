import ServiceKit

/// revio-data: Revio billing data grouped for the sales dashboard.
public enum RevioDataService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "revio-data", schema: "revio", defaultPort: 8104, migrations: [])

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration)
    }
}
