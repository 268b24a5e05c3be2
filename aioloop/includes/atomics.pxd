# Atomic loads, stores and exchanges (GCC/Clang builtins) for flags that one thread
# writes and others poll without a lock. Acquire/release ordering: what a
# thread wrote before a release-store is visible to one that acquire-loads
# the new value.

cdef extern from *:
    """
    static inline int aio_load_acquire(const int *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static inline void aio_store_release(int *p, int v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static inline int aio_load_seq(const int *p) {
        return __atomic_load_n(p, __ATOMIC_SEQ_CST);
    }
    static inline void aio_store_seq(int *p, int v) {
        __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
    }
    static inline int aio_exchange_seq(int *p, int v) {
        return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
    }
    static inline int aio_load_relaxed(const int *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    /* The producer's half of a Dekker handshake: publish *flag = 1, then
       take *other (exchange it with 0); returns what *other was. */
    static inline int aio_set_pending_and_take(int *flag, int *other) {
        __atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
        return __atomic_exchange_n(other, 0, __ATOMIC_SEQ_CST);
    }
    """
    int aio_load_acquire(const int *p) nogil
    void aio_store_release(int *p, int v) nogil
    # Sequentially consistent: for the store-then-load handshakes where each
    # side must see the other's store (the inbox's sleeping/pending flags).
    int aio_load_seq(const int *p) nogil
    void aio_store_seq(int *p, int v) nogil
    int aio_exchange_seq(int *p, int v) nogil
    int aio_load_relaxed(const int *p) nogil
    int aio_set_pending_and_take(int *flag, int *other) nogil

cdef extern from "<sched.h>" nogil:
    int sched_yield()
