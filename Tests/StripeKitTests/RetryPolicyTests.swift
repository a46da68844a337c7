import StripeKit
import Testing

@Suite struct StripeRetryPolicyTests {
    let policy = StripeRetryPolicy()

    @Test(arguments: [409, 429, 500, 502, 503])
    func retriesConflictsRateLimitsAndServerErrors(status: Int) {
        #expect(policy.shouldRetry(retriesSoFar: 0, status: status, shouldRetryHeader: nil))
    }

    @Test(arguments: [400, 401, 402, 403, 404])
    func neverRetriesClientErrors(status: Int) {
        #expect(!policy.shouldRetry(retriesSoFar: 0, status: status, shouldRetryHeader: nil))
    }

    @Test func stripeShouldRetryWins() {
        #expect(!policy.shouldRetry(retriesSoFar: 0, status: 500, shouldRetryHeader: "false"))
        #expect(policy.shouldRetry(retriesSoFar: 0, status: 400, shouldRetryHeader: "true"))
    }

    @Test func connectionErrorsAreRetriedAtMostThreeTimes() {
        #expect(policy.shouldRetry(retriesSoFar: 2, status: nil, shouldRetryHeader: nil))
        #expect(!policy.shouldRetry(retriesSoFar: 3, status: nil, shouldRetryHeader: nil))
        #expect(!policy.shouldRetry(retriesSoFar: 3, status: 500, shouldRetryHeader: "true"))
    }

    @Test func backoffGrowsFromHalfASecondToFiveSeconds() {
        #expect(policy.delay(forRetry: 0, retryAfter: nil, unitRandom: 0) == .milliseconds(500))
        #expect(policy.delay(forRetry: 0, retryAfter: nil, unitRandom: 1) == .milliseconds(500))
        #expect(policy.delay(forRetry: 2, retryAfter: nil, unitRandom: 1) == .seconds(2))
        #expect(policy.delay(forRetry: 2, retryAfter: nil, unitRandom: 0) == .seconds(1))
        #expect(policy.delay(forRetry: 8, retryAfter: nil, unitRandom: 1) == .seconds(5))
    }

    @Test func retryAfterIsHonouredWithinReason() {
        #expect(policy.delay(forRetry: 0, retryAfter: "3", unitRandom: 0) == .seconds(3))
        // Shorter than the backoff: the backoff stands.
        #expect(policy.delay(forRetry: 3, retryAfter: "1", unitRandom: 1) == .seconds(4))
        // Absurd or unreadable: ignored.
        #expect(policy.delay(forRetry: 0, retryAfter: "3600", unitRandom: 0) == .milliseconds(500))
        #expect(policy.delay(forRetry: 0, retryAfter: "soon", unitRandom: 0) == .milliseconds(500))
    }
}
