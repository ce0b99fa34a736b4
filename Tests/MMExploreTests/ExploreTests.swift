// Root suite: every exploration test runs serialized (they pin model threads to CPU 0).

import Testing

@Suite(.serialized) struct ExploreTests {}
