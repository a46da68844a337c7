import ServiceKit

/// devops-api: API keys, data-sync endpoints and webhooks for the DevOps module.
public enum DevOpsAPIService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "devops-api", schema: "devops", defaultPort: 8106, migrations: [])

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration)
    }
}
