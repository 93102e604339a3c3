// RUN: rducc opt %s --split-input-file --verify-diagnostics | filecheck %s
// One case per verifier rule of rdu-tile's attributes and of a stage's tile program.

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<zigzag, grid [1], tile [256], order "tiles", reduce "none", reuse "">, patterns = [#rdu.pattern<hbm, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.tile_loop: kind 'zigzag' is not one of stream, rows, matmul, whole

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<rows, grid [4], tile [1, 64], order "rows", reduce "none", reuse "">, patterns = [#rdu.pattern<hbm, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.tile_loop: a rows loop has 2 grid and 2 tile dims, got 1 and 2

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<stream, grid [0], tile [256], order "tiles", reduce "none", reuse "">, patterns = [#rdu.pattern<hbm, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.tile_loop: grid and tile dims must be at least 1, got grid [0] tile [256]

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<stream, grid [1], tile [256], order "tiles", reduce "sideways", reuse "">, patterns = [#rdu.pattern<hbm, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.tile_loop: reduce 'sideways' is not one of none, running, two-pass, k-accumulate

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<stream, grid [1], tile [256], order "tiles", reduce "none", reuse "">, patterns = [#rdu.pattern<hbm, offset 0, stride 256, count 0, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.pattern: offset and stride must be non-negative, count, tile and extent at least 1

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<stream, grid [1], tile [256], order "tiles", reduce "none", reuse "">, patterns = [#rdu.pattern<tape, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.pattern: space 'tape' is not one of hbm, ddr, sram

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<stream, grid [1], tile [256], order "tiles", reduce "none", reuse "">} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.load: its tile program needs 1 address pattern(s), got 0

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
    %2 = rdu.buffer %1 {units = 1 : i64, bytes = 512 : i64, tile_bytes = 256 : i64, tile_loop = #rdu.tile_loop<stream, grid [1], tile [256], order "tiles", reduce "none", reuse "">, patterns = [#rdu.pattern<sram, offset 0, stride 256, count 1, tile 256, extent 256>, #rdu.pattern<sram, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.stream<64xf32>
  }
}
// CHECK: rdu.buffer: a PMU stage's tile program needs an SRAM range

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
    %2 = rdu.buffer %1 {units = 1 : i64, bytes = 512 : i64, tile_bytes = 256 : i64, sram = #rdu.sram<base 0, bytes 512, slots 3, tile 256>} : !rdu.stream<64xf32>
  }
}
// CHECK: rdu.sram: 3 slots of 256 bytes do not fit the 512-byte range

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<stream, grid [1], tile [256], order "tiles", reduce "none", reuse "", restream "a", passes 2>, patterns = [#rdu.pattern<hbm, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.tile_loop: restream 'a' passes 2: passes are at least 1, and only a matmul re-streams an operand ("a" or "b")

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<64xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tile_loop = #rdu.tile_loop<stream, grid [1], tile [256], order "tiles", reduce "none", reuse "", passes 0>, patterns = [#rdu.pattern<hbm, offset 0, stride 256, count 1, tile 256, extent 256>]} : !rdu.mem<64xf32> -> !rdu.stream<64xf32>
  }
}
// CHECK: rdu.tile_loop: restream '' passes 0: passes are at least 1, and only a matmul re-streams an operand ("a" or "b")
