import ServiceKit

/// crm-relay: durable delivery of registrations and repair bookings to the CRM.
public enum CRMRelayService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "crm-relay", schema: "crm", defaultPort: 8105, migrations: [])

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration)
    }
}
