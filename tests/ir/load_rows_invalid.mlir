// RUN: rducc opt %s --split-input-file --verify-diagnostics | filecheck %s
// Every verifier rule of the indexed row load (rdu.load_rows), one case each.

// CHECK: rdu.load_rows: the tensor must be a weight, a state or an input (rows are read from a table in memory)
builtin.module {
  %0 = rdu.tensor "t" {role = #rdu.role<activation>, tier = #rdu.tier<hbm>} : !rdu.mem<8x4xf32>
  %1 = rdu.tensor "ids" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<2xi64>
  rdu.kernel "k" {
    %2 = rdu.load %1 {units = 1 : i64} : !rdu.mem<2xi64> -> !rdu.stream<2xi64>
    %3 = rdu.load_rows %2 from %0 {units = 1 : i64, dim = 0 : i64} : !rdu.stream<2xi64>, !rdu.mem<8x4xf32> -> !rdu.stream<2x4xf32>
  }
}

// -----

// CHECK: rdu.load_rows: result shape (2, 4) should be (1, 2, 4)
builtin.module {
  %0 = rdu.tensor "t" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>} : !rdu.mem<8x4xf32>
  %1 = rdu.tensor "ids" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<1x2xi64>
  rdu.kernel "k" {
    %2 = rdu.load %1 {units = 1 : i64} : !rdu.mem<1x2xi64> -> !rdu.stream<1x2xi64>
    %3 = rdu.load_rows %2 from %0 {units = 1 : i64, dim = 0 : i64} : !rdu.stream<1x2xi64>, !rdu.mem<8x4xf32> -> !rdu.stream<2x4xf32>
  }
}

// -----

// CHECK: rdu.load_rows: input 1 must be i64 or i32 (indices), got f32
builtin.module {
  %0 = rdu.tensor "t" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>} : !rdu.mem<8x4xf32>
  %1 = rdu.tensor "ids" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<2xf32>
  rdu.kernel "k" {
    %2 = rdu.load %1 {units = 1 : i64} : !rdu.mem<2xf32> -> !rdu.stream<2xf32>
    %3 = rdu.load_rows %2 from %0 {units = 1 : i64, dim = 0 : i64} : !rdu.stream<2xf32>, !rdu.mem<8x4xf32> -> !rdu.stream<2x4xf32>
  }
}
