import Foundation
import ServiceKit
import Testing

@testable import CRMRelay

@Suite struct EventValidationTests {
    static func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test func theSeedsPayloadsAreValid() throws {
        #expect(EventValidation.problems(in: try Self.json(RelayFixtures.registration(email: "ada@example.com")), kind: .customerRegistration) == [])
        #expect(EventValidation.problems(in: try Self.json(RelayFixtures.repair(ticket: "T-1")), kind: .repairRequest) == [])
    }

    @Test func everyBadFieldIsNamed() throws {
        let body = try Self.json(
            """
            {"repair": {"ticketNumber": "", "websiteRepairId": "r1", "customerEmail": "not-an-email", "customerName": "Ada",
             "deviceType": "phone", "issueDescription": "cracked", "createdAt": "yesterday", "estimatedCost": -5,
             "priority": "whenever", "photos": ["https://cdn.example.com/a.jpg", "ftp://x/y", 7]}}
            """
        )
        let fields = EventValidation.problems(in: body, kind: .repairRequest).map(\.field)
        #expect(
            fields == [
                "repair.ticketNumber", "repair.customerEmail", "repair.priority", "repair.createdAt", "repair.estimatedCost",
                "repair.photos[2]",
            ]
        )
        #expect(
            EventValidation.problems(in: body, kind: .repairRequest, strictPhotoURLs: true).map(\.field).suffix(2) == [
                "repair.photos[1]", "repair.photos[2]",
            ]
        )
    }

    @Test func theSeedsPlaceholderPhotosPassUnlessURLsAreRequired() throws {
        let body = try Self.json(
            """
            {"repair": {"ticketNumber": "REV-1", "websiteRepairId": "r1", "customerEmail": "john@example.com", "customerName": "John Doe",
             "deviceType": "laptop", "issueDescription": "screen", "createdAt": "2024-12-13T10:00:00Z", "photos": ["url1", "url2"]}}
            """
        )
        #expect(EventValidation.problems(in: body, kind: .repairRequest).isEmpty)
        #expect(
            EventValidation.problems(in: body, kind: .repairRequest, strictPhotoURLs: true).map(\.field) == ["repair.photos[0]", "repair.photos[1]"]
        )
    }

    @Test func aRegistrationNeedsItsCustomer() throws {
        #expect(EventValidation.problems(in: try Self.json(#"{"metadata": {}}"#), kind: .customerRegistration).map(\.field) == ["customer"])
        #expect(EventValidation.problems(in: try Self.json("[1]"), kind: .customerRegistration).map(\.field) == ["body"])
        let long = String(repeating: "x", count: 101)
        let problems = EventValidation.problems(
            in: try Self.json(
                #"{"customer": {"firstName": "\#(long)", "lastName": "L", "email": "a@b.co", "websiteUserId": "u", "registrationDate": "2026-11-01T10:00:00Z"}}"#
            ),
            kind: .customerRegistration
        )
        #expect(problems == [FieldProblem("customer.firstName", "must be at most 100 characters")])
    }
}

@Suite struct DeliveryPolicyTests {
    @Test(arguments: [200, 201, 202, 204])
    func twoHundredsAreDelivered(status: Int) { #expect(AttemptOutcome.classify(status: status) == .delivered) }

    @Test(arguments: [400, 401, 403, 404, 422])
    func refusalsFailAtOnce(status: Int) { #expect(AttemptOutcome.classify(status: status) == .rejected) }

    @Test(arguments: [408, 429, 500, 502, 503, 504])
    func transientFailuresAreRetried(status: Int) {
        #expect(AttemptOutcome.classify(status: status) == .transientFailure(retryAfter: nil))
    }

    @Test func noAnswerIsTransientAndRetryAfterIsRead() {
        #expect(AttemptOutcome.classify(status: nil) == .transientFailure(retryAfter: nil))
        #expect(AttemptOutcome.classify(status: 429, retryAfter: "7") == .transientFailure(retryAfter: 7))
    }

    @Test func theScheduleIsOneTwoFourSecondsWithinTwentyPercent() {
        let schedule = RetrySchedule()
        #expect(schedule.delay(beforeRetry: 1, retryAfter: nil, unitRandom: 0.5) == .seconds(1))
        #expect(schedule.delay(beforeRetry: 2, retryAfter: nil, unitRandom: 0.5) == .seconds(2))
        #expect(schedule.delay(beforeRetry: 3, retryAfter: nil, unitRandom: 0.5) == .seconds(4))
        #expect(schedule.delay(beforeRetry: 1, retryAfter: nil, unitRandom: 0) == .milliseconds(800))
        #expect(schedule.delay(beforeRetry: 3, retryAfter: nil, unitRandom: 1) == .milliseconds(4_800))
        #expect(schedule.delay(beforeRetry: 4, retryAfter: nil, unitRandom: 0.5) == nil)
    }

    @Test func retryAfterIsHonouredWithinReason() {
        let schedule = RetrySchedule()
        #expect(schedule.delay(beforeRetry: 1, retryAfter: 30, unitRandom: 0.5) == .seconds(30))
        #expect(schedule.delay(beforeRetry: 1, retryAfter: 86_400, unitRandom: 0.5) == .seconds(300))
    }

    @Test func theBreakerOpensAfterARunOfFailuresAndAProbeClosesIt() {
        var breaker = CircuitBreaker(threshold: 3, probeInterval: .seconds(30))
        let start = ContinuousClock.now
        breaker.record(.transientFailure(retryAfter: nil), now: start)
        breaker.record(.transientFailure(retryAfter: nil), now: start)
        breaker.record(.delivered, now: start)
        breaker.record(.transientFailure(retryAfter: nil), now: start)
        breaker.record(.rejected, now: start)
        #expect(breaker.allowsDeliveries)
        for _ in 0..<3 { breaker.record(.transientFailure(retryAfter: nil), now: start) }
        #expect(!breaker.allowsDeliveries)
        #expect(!breaker.probeDue(now: start + .seconds(29)))
        #expect(breaker.probeDue(now: start + .seconds(30)))
        breaker.recordProbe(healthy: false, now: start + .seconds(30))
        #expect(!breaker.probeDue(now: start + .seconds(59)))
        breaker.recordProbe(healthy: true, now: start + .seconds(60))
        #expect(breaker.allowsDeliveries)
        #expect(breaker.consecutiveFailures == 0)
    }
}
