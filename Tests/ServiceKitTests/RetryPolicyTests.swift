import ServiceKit
import Testing

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxRetries: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1))

    @Test func ceilingDoublesUntilTheCap() {
        #expect(policy.ceiling(forRetry: 0) == .milliseconds(100))
        #expect(policy.ceiling(forRetry: 1) == .milliseconds(200))
        #expect(policy.ceiling(forRetry: 2) == .milliseconds(400))
        #expect(policy.ceiling(forRetry: 3) == .milliseconds(800))
        #expect(policy.ceiling(forRetry: 4) == .seconds(1))
        #expect(policy.ceiling(forRetry: 40) == .seconds(1))
    }

    @Test func jitterStaysUnderTheCeiling() {
        #expect(policy.delay(forRetry: 2, unitRandom: 0) == .zero)
        #expect(policy.delay(forRetry: 2, unitRandom: 0.5) == .milliseconds(200))
        #expect(policy.delay(forRetry: 2, unitRandom: 1) == .milliseconds(400))
        #expect(policy.delay(forRetry: 2, unitRandom: 7) == .milliseconds(400))
    }
}
