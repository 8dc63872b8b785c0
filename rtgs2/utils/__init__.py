"""What every stage needs: atomic writes, output-folder locks, checkpoints with identity,
progress reporting, seeding, process groups, the cache folder (:mod:`.cache`), the checkout's
commit for cards (:mod:`.git`), the packages' lazy exports (:mod:`.lazy`) and the network layers
both networks share (:mod:`.layers`). Importing the package loads no torch; its
modules load what they need."""
