import ServiceKit

/// stripe-sync: Stripe Connect and the workers that copy connected accounts and compute their metrics.
public enum StripeSyncService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "stripe-sync", schema: "sync", defaultPort: 8102, migrations: [])

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration)
    }
}
