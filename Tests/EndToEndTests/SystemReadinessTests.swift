import Foundation
@testable import Gateway
import Hummingbird
import HummingbirdTesting
import ServiceKit
import TestSupport
import Testing

/// Runs `body` with every application live, each on its own port, in the order given.
func withLiveApplications(
    _ apps: [ServiceApplication],
    _ body: @Sendable ([any TestClientProtocol]) async throws -> Void
) async throws {
    @Sendable func start(_ index: Int, _ clients: [any TestClientProtocol]) async throws {
        guard index < apps.count else { return try await body(clients) }
        try await apps[index].test(.live) { client in try await start(index + 1, clients + [client]) }
    }
    try await start(0, [])
}

/// The six real services behind a gateway that reads the real `gateway.conf`.
@Suite struct SystemReadinessTests {
    @Test func theGatewayReportsEveryServiceReady() async throws {
        var apps: [ServiceApplication] = []
        for service in allServiceTypes {
            apps.append(try await service.buildApplication(try TestSupport.serviceConfiguration()))
        }
        try await withLiveApplications(apps) { clients in
            var services: [String: String] = [:]
            for (descriptor, client) in zip(allServices, clients) { services[descriptor.name] = "http://127.0.0.1:\(client.port!)" }
            try await TestSupport.withGateway(services: services) { gateway in
                let response = try await gateway.execute(uri: "/health/ready", method: .get)
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let report = try JSONDecoder().decode(ReadinessReport.self, from: Data(buffer: response.body))
                #expect(Set(report.services.filter { $0.value == "ready" }.keys) == Set(allServices.map(\.name)))
                #expect(report.notReady.isEmpty)
            }
        }
    }
}
