import StripeKit
import Testing

@Suite struct TokenBucketTests {
    let start = ContinuousClock.now

    @Test func aFullBucketLetsABurstThroughThenPacesAtTheRate() {
        var bucket = TokenBucket(rate: 20)
        let burst = (0..<20).map { _ in bucket.reserve(at: start) }
        #expect(burst.allSatisfy { $0 == .zero })
        #expect(bucket.reserve(at: start) == .milliseconds(50))
        // Each further request at the same instant waits one more token's time.
        #expect(bucket.reserve(at: start) == .milliseconds(100))
    }

    @Test func tokensComeBackWithTimeUpToTheBurst() {
        var bucket = TokenBucket(rate: 10, burst: 2)
        _ = bucket.reserve(at: start)
        _ = bucket.reserve(at: start)
        #expect(bucket.reserve(at: start + .milliseconds(100)) == .zero)
        let later = start + .seconds(60)
        #expect(bucket.reserve(at: later) == .zero)
        #expect(bucket.reserve(at: later) == .zero)
        #expect(bucket.reserve(at: later) == .milliseconds(100))
    }
}
