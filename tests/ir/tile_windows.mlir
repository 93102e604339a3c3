// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | rducc opt | filecheck %s
// Window stages (bitstream_format.tiling.window_loop, passes/layout_windows.py): GQA's expand of 2
// KV heads of 16 positions x 8 to 2 query heads each, then Kᵀ (the transpose of the last two axes)
// for Q·Kᵀ. Neither holds its whole value: the expand holds one KV head (a window of 16 x 8 f32,
// 512 bytes), written in order and read twice from its start (read outer stride 0, count 2: no
// copy, one read per query head of the group), emitting 32 rows per window; the transpose holds
// one [16, 8] matrix, writes arriving row k down column k (outer stride one f32, count 16; inner
// stride 16 f32, count 8) and reads it as 8 rows of 16. Both double-buffer: slots 2.

func.func @forward(%k: tensor<2x1x16x8xf32>, %q: tensor<4x1x8xf32>) -> tensor<4x1x16xf32> {
  %0 = rgraph.expand %k : tensor<2x1x16x8xf32> -> tensor<2x2x16x8xf32>
  %1 = rgraph.reshape %0 : tensor<2x2x16x8xf32> -> tensor<4x16x8xf32>
  %2 = rgraph.permute %1 {dims = array<i64: 0, 2, 1>} : tensor<4x16x8xf32> -> tensor<4x8x16xf32>
  %3 = rgraph.matmul %q, %2 : (tensor<4x1x8xf32>, tensor<4x8x16xf32>) -> tensor<4x1x16xf32>
  func.return %3 : tensor<4x1x16xf32>
}

// CHECK: rdu.compute "expand"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [2, 1], tile [32, 8], order "repeat", reduce "none", reuse "">, sram = #rdu.sram<base 0, bytes 1024, slots 2, tile 512>, patterns = [#rdu.pattern<sram, offset 0, stride 32, count 16, tile 4, extent 512>, #rdu.pattern<sram, offset 0, stride 4, count 8, tile 4, extent 512>, #rdu.pattern<sram, offset 0, stride 0, count 2, tile 4, extent 512>, #rdu.pattern<sram, offset 0, stride 4, count 128, tile 4, extent 512>]
// CHECK: rdu.compute "permute"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [4, 1], tile [8, 16], order "transpose", reduce "none", reuse "">, sram = #rdu.sram<base 0, bytes 1024, slots 2, tile 512>, patterns = [#rdu.pattern<sram, offset 0, stride 4, count 16, tile 4, extent 512>, #rdu.pattern<sram, offset 0, stride 64, count 8, tile 4, extent 512>, #rdu.pattern<sram, offset 0, stride 64, count 8, tile 4, extent 512>, #rdu.pattern<sram, offset 0, stride 4, count 16, tile 4, extent 512>]
// CHECK-NOT: order "whole"
