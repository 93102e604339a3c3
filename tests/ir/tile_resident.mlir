// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units' | filecheck %s --check-prefix=ALLOC
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile' | filecheck %s
// Attention run query-block outer holds Q, Kᵀ and V whole (passes/row_order.py, QueryBlock): 128 KB
// each, in 28 tiles of 4,729 bytes (a loaded value held whole is tiled at the AGCU's per-tile
// overhead, `memory_stream_overhead`), ten to a 64 KB PMU of the small chip: three PMUs each. rdu-allocate-units reserves those PMUs before it
// balances the rest of the kernel's PMUs (`reserve_resident`): the buffers are marked `resident`,
// hold every tile (depth = all 28 tiles), and the other PMU
// stages share what is left. rdu-tile then only records
// the holding, and attention's output transpose streams by windows (`rows@1/...`). Without the
// reservation the buffers had one PMU each, none could be taken from the weights, and the
// transpose stayed whole.

func.func @forward(%q: tensor<2x256x64xf32>, %kt: tensor<2x64x256xf32>, %v: tensor<2x256x64xf32>, %w: tensor<128x1024xf32>, %w2: tensor<1024x512xf32>) -> tensor<256x512xf32> {
  %0 = rgraph.matmul %q, %kt : (tensor<2x256x64xf32>, tensor<2x64x256xf32>) -> tensor<2x256x256xf32>
  %1 = rgraph.softmax %0 {dim = 2 : i64} : tensor<2x256x256xf32> -> tensor<2x256x256xf32>
  %2 = rgraph.matmul %1, %v : (tensor<2x256x256xf32>, tensor<2x256x64xf32>) -> tensor<2x256x64xf32>
  %3 = rgraph.permute %2 {dims = array<i64: 1, 0, 2>} : tensor<2x256x64xf32> -> tensor<256x2x64xf32>
  %4 = rgraph.reshape %3 : tensor<256x2x64xf32> -> tensor<256x128xf32>
  %5 = rgraph.matmul %4, %w : (tensor<256x128xf32>, tensor<128x1024xf32>) -> tensor<256x1024xf32>
  %6 = rgraph.matmul %5, %w2 : (tensor<256x1024xf32>, tensor<1024x512xf32>) -> tensor<256x512xf32>
  func.return %6 : tensor<256x512xf32>
}

// ALLOC: rdu.buffer %{{[0-9]+}} {resident, units = 3 : i64, bytes = 47290 : i64, tile_bytes = 4729 : i64, tiles = array<i64: 4729>, depths = array<i64: 28>} : !rdu.stream<2x256x64xf32>
// ALLOC: rdu.buffer %{{[0-9]+}} {resident, units = 3 : i64, bytes = 47290 : i64, tile_bytes = 4729 : i64, tiles = array<i64: 4729>, depths = array<i64: 28>} : !rdu.stream<2x64x256xf32>
// ALLOC: rdu.buffer %{{[0-9]+}} {units = 1 : i64, {{.*}} : !rdu.stream<2x256x256xf32>
// ALLOC: rdu.buffer %{{[0-9]+}} {resident, units = 3 : i64, bytes = 47290 : i64, tile_bytes = 4729 : i64, tiles = array<i64: 4729>, depths = array<i64: 28>} : !rdu.stream<2x256x64xf32>
// ALLOC-NOT: resident

// CHECK: rdu.buffer %{{[0-9]+}} {resident, units = 3 : i64, {{.*}}depths = array<i64: 28>, tile_loop = #rdu.tile_loop<stream, grid [28], {{.*}}sram = #rdu.sram<base 0, bytes 47290, slots 10, tile 4729>
// CHECK: rdu.compute "matmul"({{.*}}order "m,b,n,k"
// CHECK: rdu.compute "matmul"({{.*}}order "m,b,n,k"
// CHECK: rdu.compute "permute"({{.*}}tile_loop = #rdu.tile_loop<rows, {{.*}}order "rows@1/{{[0-9]+}},0,1"
