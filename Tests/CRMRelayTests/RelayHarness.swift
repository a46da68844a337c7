@testable import CRMRelay
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport
import Testing

enum RelayFixtures {
    static func registration(email: String) -> String {
        """
        {"customer": {"firstName": "Ada", "lastName": "Lovelace", "email": "\(email)", "phone": "+44 20 7946 0000",
          "websiteUserId": "web-42", "registrationDate": "2026-11-20T10:15:00Z", "source": "website", "language": "en",
          "status": "active", "preferences": {"newsletter": true}},
         "metadata": {"campaign": "winter"}}
        """
    }

    static func repair(ticket: String) -> String {
        """
        {"repair": {"ticketNumber": "\(ticket)", "websiteRepairId": "rep-\(ticket)", "customerEmail": "ada@example.com",
          "customerName": "Ada Lovelace", "deviceType": "smartphone", "deviceModel": "Pixel 9", "issueDescription": "Cracked screen",
          "serviceType": "screen_replacement", "priority": "high", "language": "en", "address": {"city": "London"},
          "notes": "Call first", "createdAt": "2026-11-21T09:00:00.000Z", "estimatedCost": 149.99,
          "photos": ["https://cdn.example.com/p/1.jpg"]},
         "customer": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"},
         "metadata": {"source": "booking-form"}}
        """
    }
}

/// crm-relay behind the real gateway.conf, delivering to the sandbox's CRM. The relay tests share the `crm` schema,
/// so they run one at a time and each starts from an empty outbox.
struct RelayHarness: Sendable {
    let gateway: any TestClientProtocol
    let relay: any TestClientProtocol
    let sandbox: Sandbox

    static func settings(crm: String, apiKey: String) -> RelaySettings {
        var settings = RelaySettings(webhookURL: crm + "/crm/webhooks", apiKey: apiKey)
        settings.retryBase = .milliseconds(20)
        settings.pollInterval = .milliseconds(10)
        settings.breakerProbeInterval = .milliseconds(200)
        settings.timeout = .seconds(2)
        return settings
    }

    static func run(configure: @Sendable (inout RelaySettings) -> Void = { _ in }, _ test: @Sendable (RelayHarness) async throws -> Void) async throws {
        try await TestSupport.withPostgres { client in
            try await CRMRelayService.descriptor.migrationRunner.run(on: client, logger: TestSupport.logger)
            try await client.query("TRUNCATE crm.delivery_attempts, crm.outbox", logger: TestSupport.logger)
        }
        try await TestSupport.withSandbox { sandbox, sandboxClient in
            var settings = settings(crm: sandboxClient.baseURL, apiKey: sandbox.crm.apiKey)
            configure(&settings)
            let app = await CRMRelayService.buildApplication(try TestSupport.serviceConfiguration(), settings: settings)
            try await app.test(.live) { relay in
                try await TestSupport.withGateway(services: ["crm-relay": relay.baseURL]) { gateway in
                    try await test(RelayHarness(gateway: gateway, relay: relay, sandbox: sandbox))
                }
            }
        }
    }

    func send(_ kind: CRMEventKind, _ body: String, idempotencyKey: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(TestSupport.crmEventsKey)", .contentType: "application/json"]
        if let idempotencyKey { headers[.idempotencyKey] = idempotencyKey }
        return try await gateway.execute(uri: "/api/crm/events/\(kind.rawValue)", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func accept(_ kind: CRMEventKind, _ body: String) async throws -> UUID {
        let response = try await send(kind, body)
        #expect(response.status == .accepted, "\(String(buffer: response.body))")
        let accepted = try JSONDecoder().decode(EventRoutes.Accepted.self, from: Data(buffer: response.body))
        return try #require(UUID(uuidString: accepted.eventId))
    }

    func admin(_ method: HTTPRequest.Method, _ uri: String, body: String? = nil) async throws -> TestResponse {
        let token = try await TestSupport.userToken("crm-admin", admin: true)
        return try await gateway.execute(
            uri: uri,
            method: method,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) }
        )
    }

    func integration() async throws -> IntegrationRoutes.Status {
        let response = try await admin(.get, "/api/crm/integration")
        #expect(response.status == .ok)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(IntegrationRoutes.Status.self, from: Data(buffer: response.body))
    }

    static func status(of id: UUID) async throws -> (status: String, attempts: [Int?]) {
        try await TestSupport.withPostgres { client in
            var status = ""
            for try await value in try await client.query("SELECT status FROM crm.outbox WHERE event_id = \(id)", logger: TestSupport.logger)
                .decode(String.self)
            { status = value }
            var attempts: [Int?] = []
            for try await value in try await client.query(
                "SELECT http_status FROM crm.delivery_attempts WHERE event_id = \(id) ORDER BY attempt, id",
                logger: TestSupport.logger
            ).decode(Int?.self) { attempts.append(value) }
            return (status, attempts)
        }
    }

    func waitFor(_ id: UUID, status expected: String) async throws {
        try await TestSupport.eventually("event \(id) to be \(expected)") { try await Self.status(of: id).status == expected }
    }
}
