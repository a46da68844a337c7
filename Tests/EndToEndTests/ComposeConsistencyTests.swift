import Foundation
import Gateway
import ServiceKit
import TestSupport
import Testing

/// The disagreements between `compose/docker-compose.yml` and `gateway.conf` that would break a deployment.
func composeProblems(compose: YAMLNode, gatewayConfPath: String, services descriptors: [ServiceDescriptor]) -> [String] {
    var problems: [String] = []
    let containers = compose["services"]?.mapping ?? [:]
    for name in Set(descriptors.map(\.name) + ["gateway", "postgres"]).subtracting(containers.keys).sorted() {
        problems.append("compose has no `\(name)` service")
    }
    if containers["postgres"]?["healthcheck"] == nil { problems.append("postgres has no health check") }
    for (name, container) in containers.sorted(by: { $0.key < $1.key }) where name != "gateway" && container["ports"] != nil {
        problems.append("\(name) publishes a port; only the gateway may")
    }
    for (name, container) in containers where container["container_name"] != nil {
        problems.append("\(name) sets container_name, so it cannot run more than one replica")
    }

    var ports: [String: Int] = [:]
    for descriptor in descriptors {
        guard let container = containers[descriptor.name] else { continue }
        if container["command"]?.scalars.first != descriptor.name {
            problems.append("\(descriptor.name) does not run the \(descriptor.name) binary")
        }
        if container["depends_on"]?["postgres"]?["condition"] != .scalar("service_healthy") {
            problems.append("\(descriptor.name) does not wait for a healthy postgres")
        }
        let environment = EnvironmentReader(container["environment"]?.stringMapping ?? [:])
        do {
            let configuration = try ServiceConfiguration.load(for: descriptor, from: environment)
            try allServiceTypes.first { $0.descriptor.name == descriptor.name }?.checkConfiguration(configuration)
            ports[descriptor.name] = configuration.port
        } catch {
            problems.append("\(descriptor.name): \(error)")
        }
    }

    if containers["stripe-sync-worker"]?["command"]?.scalars != ["stripe-sync", "worker"] {
        problems.append("compose has no stripe-sync-worker container running `stripe-sync worker`")
    }

    guard let gateway = containers["gateway"] else { return problems }
    let settings: GatewaySettings
    do {
        settings = try GatewaySettings.load(
            configPath: gatewayConfPath,
            environment: EnvironmentReader(gateway["environment"]?.stringMapping ?? [:])
        )
    } catch {
        return problems + ["gateway: \(error)"]
    }
    if settings.config.listenPort != 8080 || gateway["ports"]?.scalars.first?.hasSuffix(":8080") != true {
        problems.append("the gateway listens on \(settings.config.listenPort) but compose publishes \(gateway["ports"]?.scalars ?? [])")
    }
    for upstream in settings.config.services {
        let url = URL(string: upstream.url)
        if url?.host != upstream.name || url?.port != ports[upstream.name] {
            problems.append(
                "gateway.conf sends \(upstream.name) to \(upstream.url) (\(upstream.urlVariable ?? "no variable")), "
                    + "but compose runs it at http://\(upstream.name):\(ports[upstream.name].map(String.init) ?? "?")"
            )
        }
    }
    for descriptor in descriptors where settings.config.upstream(named: descriptor.name) == nil {
        problems.append("gateway.conf has no service \(descriptor.name)")
    }
    return problems
}

@Suite struct ComposeConsistencyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let gatewayConf = root.appendingPathComponent("gateway.conf").path

    /// What an operator sets where a value has a format of its own.
    static let operatorValues = [
        "STRIPE_SECRET_KEY": "sk_live_set_by_operator",
        "STRIPE_CLIENT_ID": "ca_set_by_operator",
        "TOKEN_ENCRYPTION_KEY": TestSupport.tokenEncryptionKey,
    ]

    static func compose(editing edit: (String) -> String = { $0 }) throws -> YAMLNode {
        let text = try String(contentsOf: root.appendingPathComponent("compose/docker-compose.yml"), encoding: .utf8)
        return try MiniYAMLParser.parse(substituteComposeVariables(edit(text), operatorValues: operatorValues))
    }

    @Test func composeAndGatewayConfAgree() throws {
        #expect(composeProblems(compose: try Self.compose(), gatewayConfPath: Self.gatewayConf, services: allServices) == [])
    }

    @Test(arguments: [
        ("      CRON_SECRET: ${CRON_SECRET:?set CRON_SECRET}\n", "", "CRON_SECRET"),
        ("      STRIPE_SECRET_KEY: ${STRIPE_SECRET_KEY:?set STRIPE_SECRET_KEY}\n", "", "STRIPE_SECRET_KEY"),
        ("      STRIPE_SYNC_URL: http://stripe-sync:8102\n", "      STRIPE_SYNC_URL: http://stripe-sync:9999\n", "stripe-sync"),
        ("      DEVOPS_API_PORT: \"8106\"\n", "      DEVOPS_API_PORT: \"8107\"\n", "devops-api"),
        ("  INTERNAL_SECRET: ${INTERNAL_SECRET:?set INTERNAL_SECRET}\n  LOG_LEVEL", "  LOG_LEVEL", "INTERNAL_SECRET"),
    ])
    func aDisagreementIsReported(original: String, replacement: String, named: String) throws {
        let compose = try Self.compose { text in
            #expect(text.contains(original), "the compose file changed; update this test")
            return text.replacingOccurrences(of: original, with: replacement)
        }
        let problems = composeProblems(compose: compose, gatewayConfPath: Self.gatewayConf, services: allServices)
        #expect(problems.contains { $0.contains(named) }, "\(problems)")
    }

    @Test func aMissingServiceIsReported() throws {
        let problems = composeProblems(compose: try Self.compose(), gatewayConfPath: Self.gatewayConf, services: allServices + [
            ServiceDescriptor(name: "new-service", schema: "new", defaultPort: 8107, migrations: [])
        ])
        #expect(problems.contains("compose has no `new-service` service"))
        #expect(problems.contains("gateway.conf has no service new-service"))
    }
}
