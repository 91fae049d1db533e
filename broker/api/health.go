package api

import "github.com/gin-gonic/gin"

func registerHealth(r gin.IRouter, d Deps) {}
