// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos{depth=1}' | filecheck %s --check-prefix=FORCED
// The residual of a norm: x reaches the add directly and through the sum, which takes every tile
// of x before it emits. The buffer on the short path gets x's whole value as credits (107 tiles of
// 4939 bytes: it holds x whole, so its tile is balanced at the AGCU's overhead, allocate-units'
// `memory_stream_overhead`), and its SRAM grows to hold them (107 tiles over 11 PMUs: 10 tiles,
// 49390 bytes each).
// Elsewhere the double-buffered default of allocate-units stays. depth=N forces every FIFO.

func.func @forward(%x: tensor<256x512xf32>) -> tensor<256x512xf32> {
  %0 = rgraph.sum %x {dims = array<i64: 0, 1>, keepdim = true} : tensor<256x512xf32> -> tensor<1x1xf32>
  %1 = rgraph.add %x, %0 : (tensor<256x512xf32>, tensor<1x1xf32>) -> tensor<256x512xf32>
  func.return %1 : tensor<256x512xf32>
}

// CHECK: rdu.load %{{.*}} {units = {{[0-9]+}} : i64, tiles = array<i64: 4939>, depths = array<i64: 2>}
// CHECK: rdu.buffer %{{.*}} {units = 11 : i64, bytes = 49390 : i64, tile_bytes = 4939 : i64, tiles = array<i64: 4939>, depths = array<i64: 107>}
// CHECK: rdu.compute "sum"({{.*}} depths = array<i64: 2>}
// CHECK: rdu.compute "add"({{.*}} depths = array<i64: 2>}

// FORCED-COUNT-5: depths = array<i64: 1>
// FORCED: rdu.store
