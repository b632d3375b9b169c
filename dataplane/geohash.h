/* geohash: Redis's geohash encoding and search-area helpers (geohash.c, geohash_helper.c), the
 * arithmetic behind GEOADD and GEOSEARCH. A point is a 52-bit interleaved geohash (26 bits of
 * longitude, 26 of latitude, over [-180, 180] x [-85.05112878, 85.05112878]) stored as a sorted
 * set score; a search covers the shape with the 3x3 geohash boxes around its center at a
 * precision estimated from its size. Every formula and constant is Redis's, so distances, boxes
 * and therefore results are the same to the bit. Pure functions, callable from any thread. */
#ifndef DFLY_GEOHASH_H
#define DFLY_GEOHASH_H

#include <stdint.h>

#define GEO_STEP_MAX 26 /* 26 * 2 = 52 bits */
/* Limits from EPSG:900913 / EPSG:3785 / OSGEO:41001. */
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LONG_MIN -180
#define GEO_LONG_MAX 180
/* Earth's quadratic mean radius for WGS-84, as Redis uses it. */
#define GEO_EARTH_RADIUS_IN_METERS 6372797.560856

typedef struct geohash_bits {
    uint64_t bits;
    uint8_t step;
} geohash_bits;

typedef struct geohash_range {
    double min, max;
} geohash_range;

typedef struct geohash_area {
    geohash_bits hash;
    geohash_range longitude, latitude;
} geohash_area;

typedef struct geohash_neighbors {
    geohash_bits north, east, west, south, north_east, south_east, north_west, south_west;
} geohash_neighbors;

/* A search: the center and a circle (radius) or an axis-aligned box (width x height), all in
 * the unit whose size in meters is `conversion`. */
enum { GEO_SHAPE_CIRCLE = 1, GEO_SHAPE_BOX = 2 };
typedef struct geo_shape {
    int type;
    double xy[2];      /* center: longitude, latitude */
    double conversion; /* meters per unit */
    double bounds[4];  /* min lon, min lat, max lon, max lat (geohash_bounding_box) */
    double radius;
    double width, height;
} geo_shape;

/* The center box and its eight neighbours covering a shape; a neighbour of no use is zeroed
 * (bits 0, step 0). */
typedef struct geohash_radius {
    geohash_bits hash;
    geohash_area area;
    geohash_neighbors neighbors;
} geohash_radius;

static inline int geohash_is_zero(geohash_bits h)
{
    return h.bits == 0 && h.step == 0;
}

/* Encodes a point at `step` bits per coordinate within the given ranges; 0 when the point is
 * outside them or the Redis limits. */
int geohash_encode(const geohash_range *lon_range, const geohash_range *lat_range, double longitude,
                   double latitude, uint8_t step, geohash_bits *hash);
/* The WGS84 ranges ([-180, 180], [-85.05112878, 85.05112878]). */
void geohash_coord_range(geohash_range *lon_range, geohash_range *lat_range);
int geohash_encode_wgs84(double longitude, double latitude, uint8_t step, geohash_bits *hash);
int geohash_decode(geohash_range lon_range, geohash_range lat_range, geohash_bits hash,
                   geohash_area *area);
/* The center of a 52-bit WGS84 geohash; 0 when it cannot be decoded. */
int geohash_decode_wgs84_xy(geohash_bits hash, double *xy);
/* The sorted-set score of a hash: its bits left-aligned to 52. */
uint64_t geohash_align52(geohash_bits hash);
void geohash_neighbors_of(const geohash_bits *hash, geohash_neighbors *n);

/* Haversine great-circle distance in meters between two points (degrees). */
double geohash_distance(double lon1, double lat1, double lon2, double lat2);
/* Whether (x2, y2) lies within `radius` meters / the width x height meters box centered on
 * (x1, y1); the distance between the two points in *distance. */
int geohash_distance_if_in_radius(double x1, double y1, double x2, double y2, double radius,
                                  double *distance);
int geohash_distance_if_in_rectangle(double width_m, double height_m, double x1, double y1,
                                     double x2, double y2, double *distance);
/* Redis's geohashCalculateAreasByShapeWGS84: the boxes to scan for shape (fills its bounds). */
geohash_radius geohash_areas_for_shape(geo_shape *shape);

#endif
