import AsyncHTTPClient
import Foundation
import NIOCore
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import CRMRelay

extension RelayDeliveryTests {
    /// The relay is a real process killed with SIGKILL while deliveries are in flight: every accepted event still
    /// reaches the CRM, and any event sent twice carries the same event id both times.
    @Test func aRelayKilledMidDeliveryLosesNothing() async throws {
        try await TestSupport.withPostgres { client in
            try await CRMRelayService.descriptor.migrationRunner.run(on: client, logger: TestSupport.logger)
            try await client.query("TRUNCATE crm.delivery_attempts, crm.outbox", logger: TestSupport.logger)
        }
        try await TestSupport.withSandbox { sandbox, crm in
            // A slow CRM keeps deliveries in flight when the kill comes.
            sandbox.faults.add(Fault(pathPrefix: "/crm/webhooks/customer-registration", delayMilliseconds: 20, times: nil))
            let port = TestSupport.freePort()
            let environment = [
                "DATABASE_URL": ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "",
                "INTERNAL_SECRET": TestSupport.internalSecret,
                "CRM_RELAY_PORT": String(port),
                "CRM_WEBHOOK_URL": crm.baseURL + "/crm/webhooks",
                "CRM_API_KEY": sandbox.crm.apiKey,
                "CRM_LEASE_SECONDS": "1",
                "CRM_POLL_MS": "10",
                "CRM_RETRY_BASE_MS": "10",
                "CRM_WORKER_CONCURRENCY": "16",
                "LOG_LEVEL": "error",
            ]
            let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
            var accepted: [String] = []
            func send(_ count: Int, from offset: Int, to relay: ServiceProcess) async throws -> [String] {
                // A client of its own per relay: pooled connections to a killed process would fail the first requests.
                // Sixteen at a time: the pool's queue is not what this test is about, and a loaded machine would time
                // out requests waiting in it.
                try await TestSupport.withHTTPClient { http in
                    @Sendable func accept(_ index: Int) async throws -> String {
                        var request = HTTPClientRequest(url: relay.baseURL + "/api/crm/events/customer-registration")
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.headers.add(name: IdentityTokens.headerName, value: try await tokens.mint(.service("website"), issuer: "test"))
                        request.body = .bytes(ByteBuffer(string: RelayFixtures.registration(email: "crash\(index)@example.com")))
                        let response = try await http.execute(request, timeout: .seconds(30))
                        let body = try await response.body.collect(upTo: 1 << 16)
                        #expect(response.status == .accepted)
                        return try JSONDecoder().decode(EventRoutes.Accepted.self, from: body).eventId
                    }
                    return try await withThrowingTaskGroup(of: String.self) { group in
                        var next = offset
                        var ids: [String] = []
                        while next < offset + min(16, count) {
                            let index = next
                            group.addTask { try await accept(index) }
                            next += 1
                        }
                        while let id = try await group.next() {
                            ids.append(id)
                            if next < offset + count {
                                let index = next
                                group.addTask { try await accept(index) }
                                next += 1
                            }
                        }
                        return ids
                    }
                }
            }
            let first = try await ServiceProcess(product: "crm-relay", port: port, environment: environment)
            accepted += try await send(250, from: 0, to: first)
            try await TestSupport.eventually("deliveries to be in flight") { sandbox.crm.receipts.count >= 20 }
            try await first.kill()
            #expect(sandbox.crm.receipts.count < 250, "the kill came after every delivery; the test proves nothing")

            let second = try await ServiceProcess(product: "crm-relay", port: port, environment: environment)
            accepted += try await send(250, from: 250, to: second)
            let expected = Set(accepted)
            try await TestSupport.eventually("all 500 events at the CRM", timeout: .seconds(60)) {
                Set(sandbox.crm.receipts.compactMap(\.eventID)).isSuperset(of: expected)
            }
            try await second.stop()
            #expect(accepted.count == 500)
            let receipts = sandbox.crm.receipts
            #expect(Set(receipts.compactMap(\.eventID)) == Set(accepted))
            // A redelivered event is the same event: same id, same payload.
            let payloadByID = Dictionary(grouping: receipts, by: { $0.eventID ?? "" }).mapValues { Set($0.map(\.payload)) }
            #expect(payloadByID.values.allSatisfy { $0.count == 1 })
        }
    }
}
