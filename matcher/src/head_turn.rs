//! Head-turn liveness: the citizen turns their head to a side the server chose, when asked.
//!
//! A frame's yaw comes from its five landmarks: the nose base's offset from the midpoint of
//! the four eye corners, along the eyes' axis, over the distance between the outer corners.
//! Looking straight at the camera it is near 0; as the head turns, the nose, which stands
//! out of the face, moves further than the eyes do, toward the side the head turns to.
//! Positive values put the nose toward the image's right: a citizen in front of a camera
//! (an unmirrored picture) who turns to their own left.
//!
//! A turn is a run of at least `MIN_TURN_FRAMES` frames whose yaw differs from the
//! capture's median by more than `TURN_RATIO`, all the same way (the median is the
//! citizen's own resting pose, so a face a little to one side of the camera is not a turn).

use serde::{Deserialize, Serialize};

use crate::face::FrameFace;
use crate::face::landmarks::Landmarks;

/// Yaw change (from the capture's median) that counts as turned. Chosen in EVALUATION.md:
/// real faces looking at the camera while talking stay within it, and faces turned a
/// quarter of the way to profile exceed it.
pub const TURN_RATIO: f32 = 0.1;
/// Fewest consecutive turned frames for a turn (0.2 s at 10 frames a second).
pub const MIN_TURN_FRAMES: usize = 2;

/// A side, as the citizen sees it: their own left or right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

/// The yaw of a face from its landmarks (see the module's comment), or None when the eye
/// corners coincide.
pub fn yaw(l: &Landmarks) -> Option<f32> {
    let p = |i: usize| [l[i][0] as f32, l[i][1] as f32];
    // Outer corners: 0 is on the image's right, 2 on its left.
    let (right, left) = (p(0), p(2));
    let axis = [right[0] - left[0], right[1] - left[1]];
    let span2 = axis[0] * axis[0] + axis[1] * axis[1];
    if span2 < 1.0 {
        return None;
    }
    let mid = (0..4)
        .map(p)
        .fold([0.0, 0.0], |m, q| [m[0] + q[0] / 4.0, m[1] + q[1] / 4.0]);
    let nose = p(4);
    Some(((nose[0] - mid[0]) * axis[0] + (nose[1] - mid[1]) * axis[1]) / span2)
}

/// The yaw of each frame's face (None where no usable face was found).
pub fn yaws(faces: &[crate::Result<FrameFace>]) -> Vec<Option<f32>> {
    faces
        .iter()
        .map(|f| f.as_ref().ok().and_then(|f| yaw(&f.sample.landmarks)))
        .collect()
}

/// One turn of the head: its first frame, length and side.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct HeadTurn {
    pub start: usize,
    pub frames: usize,
    pub side: Side,
}

/// The turns of a sequence of yaws (None = no usable face in that frame), and the
/// capture's resting yaw.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TurnReport {
    pub baseline: Option<f32>,
    pub turns: Vec<HeadTurn>,
}

impl TurnReport {
    /// Whether the face of a frame with this yaw looks straight on (for its template): less
    /// than half a turn from the resting pose.
    pub fn frontal(&self, yaw: Option<f32>) -> bool {
        match (yaw, self.baseline) {
            (Some(y), Some(b)) => (y - b).abs() < TURN_RATIO / 2.0,
            _ => false,
        }
    }
}

/// Finds the turns in a sequence of yaws.
pub fn analyse(yaws: &[Option<f32>]) -> TurnReport {
    let mut known: Vec<f32> = yaws.iter().flatten().copied().collect();
    known.sort_by(f32::total_cmp);
    let baseline = known.get(known.len() / 2).copied();
    let mut turns = Vec::new();
    let Some(base) = baseline else {
        return TurnReport { baseline, turns };
    };
    let side_of = |y: Option<f32>| {
        let d = y? - base;
        (d.abs() > TURN_RATIO).then_some(if d > 0.0 { Side::Left } else { Side::Right })
    };
    let mut run: Option<HeadTurn> = None;
    for (i, &y) in yaws.iter().enumerate() {
        match (side_of(y), run.as_mut()) {
            (Some(side), Some(r)) if r.side == side => r.frames += 1,
            (now, _) => {
                if let Some(r) = run.take().filter(|r| r.frames >= MIN_TURN_FRAMES) {
                    turns.push(r);
                }
                run = now.map(|side| HeadTurn {
                    start: i,
                    frames: 1,
                    side,
                });
            }
        }
    }
    if let Some(r) = run.filter(|r| r.frames >= MIN_TURN_FRAMES) {
        turns.push(r);
    }
    TurnReport { baseline, turns }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The yaw of a head turned to `side` by `amount`, in an unmirrored picture.
    fn signed(side: Side, amount: f32) -> f32 {
        match side {
            Side::Left => amount,
            Side::Right => -amount,
        }
    }

    #[test]
    fn yaw_is_the_nose_offset_along_the_eyes() {
        // Eyes level, 100 px apart (outer corners), nose base in the middle: straight on.
        let straight: Landmarks = [[150, 100], [120, 100], [50, 100], [80, 100], [100, 150]];
        assert!(yaw(&straight).unwrap().abs() < 1e-6);
        // The nose 15 px toward the image's right: the citizen turned to their left.
        let mut left = straight;
        left[4] = [115, 150];
        assert!((yaw(&left).unwrap() - 0.15).abs() < 1e-6);
        // A tilted head (eyes on a diagonal) with the nose on the perpendicular is straight on.
        let tilted: Landmarks = [[150, 150], [130, 130], [80, 80], [100, 100], [95, 135]];
        assert!(yaw(&tilted).unwrap().abs() < 1e-6);
        let degenerate: Landmarks = [[10, 10]; 5];
        assert_eq!(yaw(&degenerate), None);
    }

    fn seq(values: &[f32]) -> Vec<Option<f32>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    #[test]
    fn a_turn_is_a_run_away_from_the_resting_pose() {
        // Resting a little to one side (0.05); a turn to the citizen's right from frame 10.
        let mut v = vec![0.05f32; 30];
        for y in v.iter_mut().skip(10).take(4) {
            *y = 0.05 + signed(Side::Right, 0.2);
        }
        let r = analyse(&seq(&v));
        assert_eq!(r.baseline, Some(0.05));
        assert_eq!(
            r.turns,
            [HeadTurn {
                start: 10,
                frames: 4,
                side: Side::Right
            }]
        );
        assert!(r.frontal(Some(0.07)) && !r.frontal(Some(-0.1)) && !r.frontal(None));
    }

    #[test]
    fn single_frames_small_moves_and_missing_faces_are_no_turn() {
        let mut v = seq(&[0.0; 30]);
        v[5] = Some(0.3);
        v[12] = Some(0.08);
        v[13] = Some(-0.09);
        v[20] = Some(0.3);
        v[21] = None;
        v[22] = Some(0.3);
        assert!(analyse(&v).turns.is_empty());
        // Left then right straight after: two turns.
        let mut w = vec![0.0f32; 20];
        w[4..7].fill(0.2);
        w[7..9].fill(-0.2);
        let r = analyse(&seq(&w));
        assert_eq!(
            r.turns
                .iter()
                .map(|t| (t.start, t.side))
                .collect::<Vec<_>>(),
            [(4, Side::Left), (7, Side::Right)]
        );
        assert!(analyse(&[None; 10]).turns.is_empty());
    }
}
