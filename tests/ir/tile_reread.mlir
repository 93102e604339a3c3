// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile' | rducc opt | filecheck %s
// rdu-tile decides, per matmul, which operand stays in its PMU buffer and which is re-streamed
// from HBM (bitstream_format.tiling.reread_plan). On the small chip (24 PMUs of 64 KB) neither
// operand of the 1024 x 512 by 512 x 512 f32 projection fits its buffer: x's ring holds 556,056
// bytes (9 PMUs x 8 slots of 7,723), 271 of its 2 KB rows; w's holds 351,696 (6 x 8 x 7,327), 171
// of its rows. Holding x in blocks of 271 rows re-reads the 1 MB weight in 4 passes (3 MB more
// HBM traffic); holding w in blocks of 171 columns would re-read the 2 MB x in 3 (4 MB more). So
// the weight is re-streamed: the linear's loop says `restream "b", passes 4` and the weight's load
// walks its pattern 4 times; x's load walks once. A one-row (decode) linear never re-reads: its
// one row is its block. The printed attributes parse back (second RUN line).

func.func @forward(%x: tensor<1024x512xf32>, %w: tensor<512x512xf32>, %r: tensor<1x512xf32>) -> (tensor<1024x512xf32>, tensor<1x512xf32>) {
  %0 = rgraph.linear %x, %w : (tensor<1024x512xf32>, tensor<512x512xf32>) -> tensor<1024x512xf32>
  %1 = rgraph.linear %r, %w : (tensor<1x512xf32>, tensor<512x512xf32>) -> tensor<1x512xf32>
  func.return %0, %1 : tensor<1024x512xf32>, tensor<1x512xf32>
}

// CHECK-LABEL: rdu.kernel "k0_linear"
// CHECK: rdu.load %0 {{{.*}}tile_loop = #rdu.tile_loop<stream, grid [272], tile [7723], order "tiles", reduce "none", reuse "">,
// CHECK: rdu.buffer %{{.*}} {units = 9 : i64, {{.*}}sram = #rdu.sram<base 0, bytes 61784, slots 8, tile 7723>
// CHECK: rdu.load %1 {{{.*}}tile_loop = #rdu.tile_loop<stream, grid [144], tile [7327], order "tiles", reduce "none", reuse "", passes 4>,
// CHECK: rdu.buffer %{{.*}} {units = 6 : i64, {{.*}}sram = #rdu.sram<base 0, bytes 58616, slots 8, tile 7327>
// CHECK: rdu.compute "linear"({{.*}}tile_loop = #rdu.tile_loop<matmul, {{.*}}, reuse "{{a|b}}", restream "b", passes 4>}
// CHECK-LABEL: rdu.kernel "k1_linear"
// CHECK-NOT: passes
// CHECK: rdu.compute "linear"({{.*}}tile_loop = #rdu.tile_loop<matmul, {{.*}}, reuse "{{a|b}}">}
