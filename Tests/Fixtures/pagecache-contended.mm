# A full compaction ends `contended` at a dirty page-cache folio with buffers (Linux:
# compact_zone: migrate_pages returned -ENOMEM before the scanners met). The folio is
# order 2 and the free scanner finds only order-1 free blocks: compaction_alloc has no
# target of its order, and split_folio refuses (filemap_release_folio cannot drop dirty
# buffers). Nothing migrates; the rest of the batch goes back. Companion of
# pagecache-split.mm. `#>` lines are expected results (FixtureTests).
machine nodes=1 node_mem=8M block=8M
# PFNs 1024-2047 (the first allocations come from the top 4 MiB block): B's pages
process B
mmap B 0x20000000 4M
touch B 0x20000000 4M
# PFNs 0-3: the page-cache folio
pagecache F folios=1 order=2 dirty private
#> pagecache → 0 status [0]
# PFNs 4-11: eight anonymous pages of A; 12-1023: kernel pages nobody can move
process A
mmap A 0x10000000 32K
touch A 0x10000000 32K
alloc node=0 order=0 count=1012 movable
# PFNs 1024-1535 become a wholly free pageblock (never a target: suitable_migration_target),
# and eight order-1 holes open at PFNs 1544, 1548, … 1572: the only other free memory
munmap B 0x20000000 2M
munmap B 0x20208000 8K
munmap B 0x2020c000 8K
munmap B 0x20210000 8K
munmap B 0x20214000 8K
munmap B 0x20218000 8K
munmap B 0x2021c000 8K
munmap B 0x20220000 8K
munmap B 0x20224000 8K
compact
#> compact → 0 status contended
verify
#> verify ok
