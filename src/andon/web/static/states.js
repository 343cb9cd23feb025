// Machine states -> andon colour categories. Pure functions, no DOM.
//
// Codes follow the two-level taxonomy of DESIGN.md section 3: category = code // 10000.
// The board groups them into a handful of colours a supervisor reads from across the hall:
//   run     green   running, reduced speed
//   attn    amber   micro-stop, starved, blocked, no operator (flow or people, act soon)
//   down    red     unknown stop, equipment failure, external failure
//   setup   purple  material, changeover, cleaning
//   planned grey-blue break, no shift, no order, planned maintenance
//   idle    light   idle
//   nodata  dark    no state received yet, or a code this board does not know

const BY_CATEGORY_CODE = new Map([
  [1, "run"], // running
  [2, "run"], // reduced speed
  [3, "down"], // unknown stop
  [4, "idle"], // idle
  [5, "attn"], // micro-stop
  [6, "attn"], // starved
  [7, "attn"], // blocked
  [9, "setup"], // material
  [10, "setup"], // changeover
  [11, "setup"], // cleaning
  [14, "attn"], // no operator
  [15, "planned"], // break
  [16, "planned"], // no shift
  [17, "planned"], // no order
  [18, "down"], // equipment failure
  [19, "down"], // external failure
  [21, "planned"], // planned maintenance
]);

// Used only when a state arrives without a code (e.g. from a source mapped by name).
const BY_NAME = new Map([
  ["running", "run"],
  ["reduced_speed", "run"],
  ["unknown_stop", "down"],
  ["idle", "idle"],
  ["micro_stop", "attn"],
  ["starved", "attn"],
  ["blocked", "attn"],
  ["material", "setup"],
  ["changeover", "setup"],
  ["cleaning", "setup"],
  ["no_operator", "attn"],
  ["break", "planned"],
  ["no_shift", "planned"],
  ["no_order", "planned"],
  ["equipment_failure", "down"],
  ["external_failure", "down"],
  ["planned_maintenance", "planned"],
]);

/** The colour category of a state, from its code, else its name. */
export function stateCategory(code, name) {
  if (typeof code === "number" && Number.isFinite(code)) {
    const category = BY_CATEGORY_CODE.get(Math.floor(code / 10000));
    if (category) return category;
  }
  if (name) {
    const key = String(name).toLowerCase().replace(/[\s-]+/g, "_");
    return BY_NAME.get(key) ?? "nodata";
  }
  return "nodata";
}

/** Fallback colours; the CSS custom properties --cat-<category> are the source of truth. */
export const CATEGORY_FALLBACK_COLOURS = {
  run: "#22a652",
  attn: "#f0a800",
  down: "#e0342f",
  setup: "#8e5bd8",
  planned: "#5b7896",
  idle: "#c9d1d9",
  nodata: "#4b5563",
};
