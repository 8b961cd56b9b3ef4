/**
 * The kernel's checker and interpreter of inet_diag bytecode, ported line for line from
 * net/ipv4/inet_diag.c (inet_diag_bc_audit with valid_cc and valid_port_comparison, and
 * inet_diag_bc_run), for the local-port operations the exporter uses. A program this checker
 * refuses is one the kernel answers with EINVAL.
 */
const INET_DIAG_BC_NOP = 0;
const INET_DIAG_BC_JMP = 1;
const INET_DIAG_BC_S_GE = 2;
const INET_DIAG_BC_S_LE = 3;

interface Op {
  readonly code: number;
  readonly yes: number;
  readonly no: number;
}

function opAt(bytecode: Uint8Array, offset: number): Op {
  const view = new DataView(bytecode.buffer, bytecode.byteOffset, bytecode.byteLength);
  return { code: view.getUint8(offset), yes: view.getUint8(offset + 1), no: view.getUint16(offset + 2, true) };
}

function validCc(bytecode: Uint8Array, len: number, cc: number): boolean {
  let at = 0;
  while (len >= 0) {
    if (cc > len) return false;
    if (cc === len) return true;
    const op = opAt(bytecode, at);
    if (op.yes < 4 || op.yes & 3) return false;
    len -= op.yes;
    at += op.yes;
  }
  return false;
}

/** inet_diag_bc_audit: the kernel's verdict on a program, before it runs it on any socket. */
export function auditBytecode(bytecode: Uint8Array): boolean {
  const bytecodeLen = bytecode.length;
  if (bytecodeLen < 4) return false;
  let len = bytecodeLen;
  let at = 0;
  while (len > 0) {
    let minLen = 4;
    const op = opAt(bytecode, at);
    switch (op.code) {
      case INET_DIAG_BC_S_GE:
      case INET_DIAG_BC_S_LE:
        minLen += 4;
        if (len < minLen) return false;
        break;
      case INET_DIAG_BC_JMP:
      case INET_DIAG_BC_NOP:
        break;
      default:
        return false;
    }
    if (op.code !== INET_DIAG_BC_NOP) {
      if (op.no < minLen || op.no > len + 4 || op.no & 3) return false;
      if (op.no < len && !validCc(bytecode, bytecodeLen, len - op.no)) return false;
    }
    if (op.yes < minLen || op.yes > len + 4 || op.yes & 3) return false;
    at += op.yes;
    len -= op.yes;
  }
  return len === 0;
}

/** inet_diag_bc_run: whether a socket with this local port passes the program. */
export function runBytecode(bytecode: Uint8Array, localPort: number): boolean {
  let len = bytecode.length;
  let at = 0;
  while (len > 0) {
    const op = opAt(bytecode, at);
    let yes = true;
    switch (op.code) {
      case INET_DIAG_BC_NOP:
        break;
      case INET_DIAG_BC_JMP:
        yes = false;
        break;
      case INET_DIAG_BC_S_GE:
        yes = localPort >= opAt(bytecode, at + 4).no;
        break;
      case INET_DIAG_BC_S_LE:
        yes = localPort <= opAt(bytecode, at + 4).no;
        break;
      default:
        throw new Error(`operation ${op.code} at byte ${at} is not one the exporter emits`);
    }
    const step = yes ? op.yes : op.no;
    len -= step;
    at += step;
  }
  return len === 0;
}
