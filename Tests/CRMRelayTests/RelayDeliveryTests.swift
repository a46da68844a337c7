@testable import CRMRelay
import Foundation
import HummingbirdTesting
import Sandbox
import ServiceKit
import TestSupport
import Testing

/// Accepting and delivering events, through the gateway, to the sandbox's CRM. Serialized: they share the outbox.
@Suite(.serialized) struct RelayDeliveryTests {
    @Test func bothKindsArriveWithTheSeedsPayloadAndTheirEventID() async throws {
        try await RelayHarness.run { h async throws in
            let registration = RelayFixtures.registration(email: "ada@example.com")
            let repair = RelayFixtures.repair(ticket: "T-100")
            let first = try await h.accept(.customerRegistration, registration)
            let second = try await h.accept(.repairRequest, repair)
            try await h.waitFor(first, status: "delivered")
            try await h.waitFor(second, status: "delivered")
            let receipts = h.sandbox.crm.receipts
            let registrationReceipt = try #require(receipts.first { $0.eventID == first.uuidString.lowercased() })
            #expect(registrationReceipt.kind == "customer-registration")
            #expect(registrationReceipt.idempotencyKey == registrationReceipt.eventID)
            #expect(try JSONValue.parse(registrationReceipt.payload) == JSONValue.parse(registration))
            let repairReceipt = try #require(receipts.first { $0.eventID == second.uuidString.lowercased() })
            #expect(repairReceipt.kind == "repair-request")
            #expect(try JSONValue.parse(repairReceipt.payload) == JSONValue.parse(repair))
        }
    }

    @Test func invalidPayloadsAre400AndNeverQueued() async throws {
        try await RelayHarness.run { h async throws in
            let response = try await h.send(.customerRegistration, #"{"customer": {"email": "nope", "registrationDate": "soon"}}"#)
            #expect(response.status == .badRequest)
            let envelope = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(buffer: response.body))
            #expect(envelope.error.code == "invalid_payload")
            #expect(
                envelope.error.fields?.map(\.field)
                    == ["customer.firstName", "customer.lastName", "customer.email", "customer.websiteUserId", "customer.registrationDate"]
            )
            #expect(try await h.send(.repairRequest, "{not json").status == .badRequest)
            #expect(try await h.integration().counts == .init())
        }
    }

    @Test func anIdempotencyKeyReturnsTheFirstAnswer() async throws {
        try await RelayHarness.run { h async throws in
            let body = RelayFixtures.registration(email: "once@example.com")
            let first = try await h.send(.customerRegistration, body, idempotencyKey: "signup-42")
            let again = try await h.send(.customerRegistration, body, idempotencyKey: "signup-42")
            #expect(first.status == .accepted && again.status == .accepted)
            let decode = { (response: TestResponse) in try JSONDecoder().decode(EventRoutes.Accepted.self, from: Data(buffer: response.body)) }
            #expect(try decode(first) == decode(again))
            let different = try await h.send(.customerRegistration, RelayFixtures.registration(email: "other@example.com"), idempotencyKey: "signup-42")
            #expect(different.status == .conflict)
            let counts = try await h.integration().counts
            #expect(counts.queued + counts.delivering + counts.delivered == 1)
        }
    }

    @Test func twoServerErrorsThenSuccessIsDeliveredOnTheThirdAttempt() async throws {
        try await RelayHarness.run { h async throws in
            h.sandbox.faults.add(Fault(pathPrefix: "/crm/webhooks/customer-registration", status: 500, times: 2))
            let id = try await h.accept(.customerRegistration, RelayFixtures.registration(email: "retry@example.com"))
            try await h.waitFor(id, status: "delivered")
            #expect(try await RelayHarness.status(of: id).attempts == [500, 500, 200])
            #expect(h.sandbox.crm.receipts.filter { $0.eventID == id.uuidString.lowercased() }.count == 1)
        }
    }

    @Test func anUnauthorizedAnswerFailsAtOnceAndIsListedForManualProcessing() async throws {
        try await RelayHarness.run(configure: { $0.apiKey = "wrong-key" }) { h async throws in
            let id = try await h.accept(.repairRequest, RelayFixtures.repair(ticket: "T-401"))
            try await h.waitFor(id, status: "failed")
            #expect(try await RelayHarness.status(of: id).attempts == [401])
            let listed = try await h.admin(.get, "/api/crm/deliveries?status=failed")
            #expect(listed.status == .ok)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let deliveries = try decoder.decode(IntegrationRoutes.Deliveries.self, from: Data(buffer: listed.body)).deliveries
            let failed = try #require(deliveries.first { $0.eventId == id })
            #expect(failed.attempts.map(\.httpStatus) == [401])
            #expect(failed.attempts.first?.responseExcerpt?.contains("invalid API key") == true)
        }
    }

    @Test func aCRMDownLongerThanTheScheduleFailsThenRetryFailedDelivers() async throws {
        try await RelayHarness.run { h async throws in
            h.sandbox.faults.add(Fault(pathPrefix: "/crm/webhooks/customer-registration", drop: true, times: nil))
            let id = try await h.accept(.customerRegistration, RelayFixtures.registration(email: "down@example.com"))
            try await h.waitFor(id, status: "failed")
            #expect(try await RelayHarness.status(of: id).attempts == [nil, nil, nil, nil])

            h.sandbox.faults.clear()
            let requeued = try await h.admin(.patch, "/api/crm/integration/retry-failed", body: #"{"eventIds": ["\#(id)"]}"#)
            #expect(String(buffer: requeued.body) == #"{"requeued":1}"#)
            try await h.waitFor(id, status: "delivered")
            #expect(h.sandbox.crm.receipts.contains { $0.eventID == id.uuidString.lowercased() })
        }
    }

    @Test func theBreakerOpensWhileTheCRMIsDownAndClosesWhenItIsBack() async throws {
        try await RelayHarness.run(configure: { $0.breakerFailures = 3; $0.maxRetries = 10 }) { h async throws in
            h.sandbox.faults.add(Fault(pathPrefix: "/crm/webhooks/", status: 503, times: nil))
            var ids: [UUID] = []
            for index in 0..<3 { ids.append(try await h.accept(.customerRegistration, RelayFixtures.registration(email: "b\(index)@example.com"))) }
            try await TestSupport.eventually("the breaker to open") { try await h.integration().breaker == "open" }
            let attemptsWhenOpened = h.sandbox.faults.requests.filter { $0.path.hasSuffix("customer-registration") }.count
            try await TestSupport.eventually("a health probe") { h.sandbox.faults.requests.contains { $0.path.hasSuffix("/health") } }
            // While open, probes go to the health endpoint and no event is sent.
            #expect(h.sandbox.faults.requests.filter { $0.path.hasSuffix("customer-registration") }.count == attemptsWhenOpened)

            h.sandbox.faults.clear()
            for id in ids { try await h.waitFor(id, status: "delivered") }
            #expect(try await h.integration().breaker == "closed")
        }
    }

    @Test func theTestEventReachesTheCRMAndIsMarked() async throws {
        try await RelayHarness.run { h async throws in
            let response = try await h.admin(.post, "/api/crm/integration/test")
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).contains(#""delivered":true"#))
            let receipt = try #require(h.sandbox.crm.receipts.last)
            #expect(receipt.payload.contains(#""test":true"#))
            let status = try await h.integration()
            #expect(status.configured)
            #expect(status.crm?.reachable == true)
            #expect(status.features.filter { $0.status == "planned" }.count == 3)
        }
    }
}

extension JSONValue {
    static func parse(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
}
