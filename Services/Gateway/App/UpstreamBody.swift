import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// The request body as AsyncHTTPClient uploads it, taken back from the upload before the response ends.
///
/// After a response, Hummingbird reads whatever is left of the request body from the connection's inbound stream, and
/// that stream allows one reader at a time. An upstream that answers before it has read the whole body leaves
/// AsyncHTTPClient's upload waiting inside `next()`; if Hummingbird's drain started then, two reads would overlap and
/// NIO traps. So the proxy calls `release()` before its response is complete: it waits out a read in flight and ends
/// the upload, and the connection's own drain then reads the rest alone.
final class UpstreamBody: AsyncSequence, @unchecked Sendable {
    typealias Element = ByteBuffer

    private struct State {
        var iterator: RequestBody.AsyncIterator?
        var reading = false
        var released = false
        var waitingForRead: CheckedContinuation<Void, Never>?
    }

    /// Guards `state`; never held across an await.
    private let lock = NIOLock()
    private var state: State

    init(_ body: RequestBody) {
        state = State(iterator: body.makeAsyncIterator())
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: UpstreamBody

        func next() async throws -> ByteBuffer? { try await body.read() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }

    private func read() async throws -> ByteBuffer? {
        let taken: RequestBody.AsyncIterator? = lock.withLock {
            guard !state.released, !state.reading, let iterator = state.iterator else { return nil }
            state.reading = true
            state.iterator = nil
            return iterator
        }
        guard var iterator = taken else { return nil }
        defer {
            let waiting: CheckedContinuation<Void, Never>? = lock.withLock {
                state.iterator = iterator
                state.reading = false
                defer { state.waitingForRead = nil }
                return state.waitingForRead
            }
            waiting?.resume()
        }
        return try await iterator.next()
    }

    /// Ends the upload: later reads see the end, and a read in flight is waited for.
    func release() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let mustWait = lock.withLock {
                state.released = true
                if state.reading { state.waitingForRead = continuation }
                return state.reading
            }
            if !mustWait { continuation.resume() }
        }
    }
}
